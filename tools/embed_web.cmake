# Compiles the web pages and assets (web/static, web/i18n, web/pages) into one C source: a
# table of {path, bytes, length, ETag}, so the binary serves exactly the pages it was built
# with and needs no folder beside it. Bytes are written as hex, so any file (and any "??"
# trigraph or quote in a script) survives; each array ends with a NUL not counted in the length,
# so text files can be read as C strings. The ETag is a prefix of the file's SHA-256.
# Usage: cmake -DWEB=web -DOUT=file.c -P tools/embed_web.cmake
file(GLOB_RECURSE files RELATIVE "${WEB}" "${WEB}/static/*" "${WEB}/i18n/*" "${WEB}/pages/*")
list(SORT files)
set(arrays "")
set(rows "")
set(i 0)
foreach(f IN LISTS files)
  file(READ "${WEB}/${f}" hex HEX)
  file(SIZE "${WEB}/${f}" size)
  file(SHA256 "${WEB}/${f}" sum)
  string(SUBSTRING "${sum}" 0 20 sum)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  # break the initializer into lines of 32 bytes for compilers and readers
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" hex "${hex}")
  string(APPEND arrays "static const unsigned char asset${i}[] = {\n${hex}0x00};\n")
  string(APPEND rows "    {\"${f}\", asset${i}, ${size}, \"\\\"${sum}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUT}.tmp" "/* generated from web/ by tools/embed_web.cmake; do not edit */
#include \"webassets.h\"

${arrays}
const web_asset web_assets[] = {
${rows}};
const size_t web_nassets = ${i};
")
file(RENAME "${OUT}.tmp" "${OUT}")
