/* The central station's web server (libmicrohttpd, a thread per connection), read-only:
 *   GET /                    the station: a tile per bed (station.html), updated by server-sent events
 *   GET /events              text/event-stream: the ward's tiles (mets_ward_json) at each change, at most
 *                            4 a second, and a comment every 15 s when nothing changes
 *   GET /ward.json           the same once
 *   GET /bed/ID              a bed's page: its alert events, newest first, each linked to its figure
 *   GET /bed/ID.json         the same as JSON (mets_ward_bed_json)
 *   GET /plot/ALERT_ID.svg   the `mets plot` figure of an alert (mets_ward_plot_svg)
 *
 *     mets_station_web *s = mets_station_web_start(ward, "127.0.0.1:8080", &err);
 *     ... mets_station_web_port(s) ...
 *     mets_station_web_stop(s);      // before mets_ward_free
 */
#ifndef METS_STATION_WEB_H
#define METS_STATION_WEB_H

#include "err.h"
#include "ward.h"

typedef struct mets_station_web mets_station_web;

/* Listens on host_port (port 0: a free one); NULL with err filled when it cannot. */
mets_station_web *mets_station_web_start(mets_ward *w, const char *host_port, mets_err *err);
int mets_station_web_port(const mets_station_web *s);
/* Ends the event streams, stops serving, frees it; NULL is a no-op. */
void mets_station_web_stop(mets_station_web *s);

#endif
