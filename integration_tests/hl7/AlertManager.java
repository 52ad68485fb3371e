// The alert manager of test_pcd: an Alert Manager (IHE PCD ACM) built on HAPI HL7v2, an implementation of
// HL7 v2 independent of mets. It listens for MLLP connections, parses every message with HAPI's pipe parser
// under HAPI's default validation, checks it against the PCD-04 profile (below), and answers ACK^R41: AA, or
// on purpose AE for every --nack-every'th message, or drops the connection without an answer for every
// --drop-every'th; --delay-ms makes it a slow manager, taking that long over each message. Each message received is logged as a JSON line (--log): what it says and what was done
// with it. --first writes the first message as received and HAPI's parse of it (for docs/pcd.md).
//
// usage: java -cp HAPI_JARS:. AlertManager --port-file F --log F [--first F] [--nack-every N] [--drop-every N]
//                                          [--delay-ms MS]
import ca.uhn.hl7v2.AcknowledgmentCode;
import ca.uhn.hl7v2.DefaultHapiContext;
import ca.uhn.hl7v2.HL7Exception;
import ca.uhn.hl7v2.HapiContext;
import ca.uhn.hl7v2.llp.HL7Reader;
import ca.uhn.hl7v2.llp.HL7Writer;
import ca.uhn.hl7v2.llp.MinLowerLayerProtocol;
import ca.uhn.hl7v2.model.Message;
import ca.uhn.hl7v2.model.v26.message.ORU_R01;
import ca.uhn.hl7v2.model.v26.group.ORU_R01_OBSERVATION;
import ca.uhn.hl7v2.model.v26.segment.OBX;
import ca.uhn.hl7v2.parser.DefaultModelClassFactory;
import ca.uhn.hl7v2.parser.PipeParser;
import ca.uhn.hl7v2.util.Terser;
import ca.uhn.hl7v2.validation.impl.ValidationContextFactory;

import java.io.FileWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

public class AlertManager {
    // HL7 v2.6 has no ORU^R40 (it came with v2.7); IHE PCD pre-adopts it on v2.6 with the structure of
    // ORU_R01, so HAPI's v2.6 model reads ORU_R40 as ORU_R01.
    static class PcdModelClassFactory extends DefaultModelClassFactory {
        private static final long serialVersionUID = 1L;

        @Override
        public Class<? extends Message> getMessageClass(String name, String version, boolean isExplicit)
                throws HL7Exception {
            return super.getMessageClass("ORU_R40".equals(name) ? "ORU_R01" : name, version, isExplicit);
        }
    }

    static PrintWriter log;
    static String firstFile;
    static int nackEvery, dropEvery, delayMs;
    static final AtomicLong received = new AtomicLong();
    static final Set<String> PHASES = Set.of("start", "continue", "update", "end");
    static final Set<String> STATES = Set.of("active", "inactive", "latched");
    static final Set<String> PRIORITIES = Set.of("PH", "PM", "PL", "PN");
    static final Set<String> TYPES = Set.of("SP", "ST", "SA");

    public static void main(String[] args) throws Exception {
        String portFile = null, logFile = null;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--port-file": portFile = args[i + 1]; break;
                case "--log": logFile = args[i + 1]; break;
                case "--first": firstFile = args[i + 1]; break;
                case "--nack-every": nackEvery = Integer.parseInt(args[i + 1]); break;
                case "--drop-every": dropEvery = Integer.parseInt(args[i + 1]); break;
                case "--delay-ms": delayMs = Integer.parseInt(args[i + 1]); break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        log = new PrintWriter(new FileWriter(logFile, true), true);
        HapiContext ctx = new DefaultHapiContext(new PcdModelClassFactory());
        ctx.setValidationContext(ValidationContextFactory.defaultValidation());
        // control ids of the acknowledgements from memory: HAPI's default keeps a file in the working folder
        ctx.getParserConfiguration().setIdGenerator(new ca.uhn.hl7v2.util.idgenerator.InMemoryIDGenerator());
        PipeParser parser = ctx.getPipeParser();
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Files.writeString(Paths.get(portFile + ".tmp"), server.getLocalPort() + "\n");
        Files.move(Paths.get(portFile + ".tmp"), Paths.get(portFile));
        for (;;) {
            Socket s = server.accept();
            new Thread(() -> serve(s, parser)).start();
        }
    }

    static void serve(Socket s, PipeParser parser) {
        MinLowerLayerProtocol llp = new MinLowerLayerProtocol(true); // MSH-18 says the charset (UTF-8)
        try (s) {
            HL7Reader reader = llp.getReader(s.getInputStream());
            HL7Writer writer = llp.getWriter(s.getOutputStream());
            for (String text; (text = reader.getMessage()) != null;) {
                long n = received.incrementAndGet();
                Thread.sleep(delayMs);
                String reply = handle(n, text, parser);
                if (reply == null)
                    return; // dropped on purpose: no acknowledgement, the connection closes
                writer.writeMessage(reply);
            }
        } catch (java.net.SocketException e) {
            // the sender closed the connection (mets pcd stopped or was killed): nothing to answer
        } catch (Exception e) {
            synchronized (log) {
                log.println("{\"error\": " + quote(e.toString()) + "}");
            }
        }
    }

    // The acknowledgement to send, or null to drop the connection.
    static String handle(long n, String text, PipeParser parser) throws Exception {
        Message msg;
        String problem = null;
        try {
            msg = parser.parse(text);
            problem = checkProfile(msg);
        } catch (HL7Exception e) {
            synchronized (log) {
                log.println("{\"n\": " + n + ", \"invalid\": " + quote(e.getMessage()) + ", \"text\": " + quote(text) + "}");
            }
            return null;
        }
        Terser t = new Terser(msg);
        String action = problem != null ? "AR"
                : dropEvery > 0 && n % dropEvery == 0 ? "drop"
                : nackEvery > 0 && n % nackEvery == 0 ? "AE" : "AA";
        ORU_R01 oru = (ORU_R01) msg;
        StringBuilder line = new StringBuilder("{\"n\": " + n);
        field(line, "control_id", t.get("/MSH-10"));
        field(line, "alert_id", t.get("/.OBR-3-1"));
        field(line, "bed", t.get("/.PV1-3-3"));
        OBX alarm = oru.getPATIENT_RESULT().getORDER_OBSERVATION().getOBSERVATION(0).getOBX();
        field(line, "event", Terser.get(alarm, 5, 0, 1, 1));
        field(line, "text", Terser.get(alarm, 5, 0, 9, 1));
        field(line, "time", Terser.get(alarm, 14, 0, 1, 1));
        field(line, "onset", t.get("/.OBR-7"));
        for (ORU_R01_OBSERVATION o : oru.getPATIENT_RESULT().getORDER_OBSERVATION().getOBSERVATIONAll()) {
            OBX obx = o.getOBX();
            String id = obx.getObservationIdentifier().getIdentifier().getValue();
            String v = obx.getObservationValue(0).encode();
            switch (id) {
                case "68481": field(line, "phase", v); break;
                case "68482": field(line, "state", v); break;
                case "68484": field(line, "priority", v); break;
                case "68485": field(line, "type", v); break;
                case "PROBABILITY": field(line, "probability", v); break;
                case "STALE": field(line, "stale", v); break;
                default: break;
            }
        }
        field(line, "reply", action);
        if (problem != null)
            field(line, "invalid", problem);
        synchronized (log) {
            log.println(line.append("}"));
            if (firstFile != null && n == 1)
                Files.writeString(Paths.get(firstFile), "As received:\n\n" + text.replace("\r", "\n")
                        + "\nHAPI's parse (" + msg.getClass().getSimpleName() + ", HL7 v" + msg.getVersion()
                        + "):\n\n" + msg.printStructure() + "\nAs HAPI encodes it again:\n\n"
                        + parser.encode(msg).replace("\r", "\n"));
        }
        if (action.equals("drop"))
            return null;
        Message ack = action.equals("AA") ? msg.generateACK()
                : msg.generateACK(action.equals("AE") ? AcknowledgmentCode.AE : AcknowledgmentCode.AR,
                        new HL7Exception(problem != null ? problem : "the alert manager is busy (a test's NACK)"));
        Terser at = new Terser(ack);
        at.set("/MSH-9-1", "ACK");
        at.set("/MSH-9-2", "R41"); // PCD-04's acknowledgement is ACK^R41^ACK
        at.set("/MSH-9-3", "ACK");
        return parser.encode(ack);
    }

    // What PCD-04 requires of a Report Alert beyond HL7's own rules; null when all of it holds.
    static String checkProfile(Message msg) throws HL7Exception {
        Terser t = new Terser(msg);
        if (!"ORU^R40^ORU_R40".equals(t.get("/MSH-9-1") + "^" + t.get("/MSH-9-2") + "^" + t.get("/MSH-9-3")))
            return "MSH-9 is not ORU^R40^ORU_R40";
        if (!"2.6".equals(t.get("/MSH-12")))
            return "MSH-12 is not 2.6";
        if (!"IHE_PCD_ACM_001".equals(t.get("/MSH-21-1")))
            return "MSH-21 is not the IHE PCD ACM profile";
        if (!"AL".equals(t.get("/MSH-15")) || !"NE".equals(t.get("/MSH-16")))
            return "MSH-15/16 are not AL/NE";
        if (empty(t.get("/MSH-10")) || empty(t.get("/.OBR-3-1")) || empty(t.get("/.PV1-3-3")))
            return "no control id, alert id or bed";
        ORU_R01 oru = (ORU_R01) msg;
        List<ORU_R01_OBSERVATION> obs = oru.getPATIENT_RESULT().getORDER_OBSERVATION().getOBSERVATIONAll();
        OBX alarm = obs.get(0).getOBX();
        if (!"196616".equals(t.get("/.OBR-4-1")) || !"196616".equals(Terser.get(alarm, 3, 0, 1, 1)))
            return "OBR-4 or the first OBX is not MDC_EVT_ALARM";
        if (empty(Terser.get(alarm, 5, 0, 1, 1)) || empty(Terser.get(alarm, 5, 0, 3, 1))
                || empty(Terser.get(alarm, 14, 0, 1, 1)))
            return "the alarm has no event code, coding system or time";
        String phase = null, state = null, priority = null, type = null;
        for (ORU_R01_OBSERVATION o : obs) {
            OBX obx = o.getOBX();
            String id = obx.getObservationIdentifier().getIdentifier().getValue();
            String v = obx.getObservationValueReps() > 0 ? obx.getObservationValue(0).encode() : null;
            if ("68481".equals(id)) phase = v;
            if ("68482".equals(id)) state = v;
            if ("68484".equals(id)) priority = v;
            if ("68485".equals(id)) type = v;
        }
        if (!PHASES.contains(phase) || !STATES.contains(state) || !PRIORITIES.contains(priority)
                || !TYPES.contains(type))
            return "event phase, alarm state, priority or alert type missing or not one PCD-04 allows";
        String flags = Terser.get(alarm, 8, 0, 1, 1) + "~" + Terser.get(alarm, 8, 1, 1, 1);
        if (!flags.equals(priority + "~" + type))
            return "OBX-8 of the alarm (" + flags + ") disagrees with its priority and type";
        return null;
    }

    static boolean empty(String s) {
        return s == null || s.isEmpty();
    }

    static void field(StringBuilder b, String name, String value) {
        b.append(", ").append(quote(name)).append(": ").append(value == null ? "null" : quote(value));
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
