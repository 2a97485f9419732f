# Turns a text data file into a C source defining `const char NAME[]` with its contents, so
# data stays a reviewable file and the binary needs nothing beside it.
# Usage: cmake -DIN=file.txt -DOUT=file.c -DNAME=symbol -P tools/embed.cmake
file(READ "${IN}" text)
string(REPLACE "\\" "\\\\" text "${text}")
string(REPLACE "\"" "\\\"" text "${text}")
string(REPLACE "\n" "\\n\"\n\"" text "${text}")
file(WRITE "${OUT}.tmp" "/* generated from ${IN}; do not edit */\nconst char ${NAME}[] =\n\"${text}\";\n")
file(RENAME "${OUT}.tmp" "${OUT}")
