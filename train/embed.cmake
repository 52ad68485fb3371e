# Writes the bytes of the file IN into the C source OUT as `const unsigned char NAME[]` (NUL-terminated)
# and `const size_t NAME_len`, so that a data file travels inside the binary:
#   cmake -DIN=table.tsv -DOUT=table_tsv.c -DNAME=table_tsv -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR size "${digits} / 2")
# 32 bytes a line keep the generated file readable in an editor.
string(REGEX REPLACE "(................................................................)" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* Generated from ${IN} by embed.cmake: do not edit. */\n#include <stddef.h>\n\n"
     "const unsigned char ${NAME}[] = {\n${bytes}0};\nconst size_t ${NAME}_len = ${size};\n")
