/* libFuzzer driver: text folding and the search query path over a small fixed catalog. Any
 * query must return at most the hits asked for, best first, with folded text well formed. */
#include "fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"
#include "text.h"

static search_index *index_once(void)
{
    static search_index *ix;
    static const product demo[] = {
        {13926897, "Ibuprofen AL 200 mg Filmtabletten", "ALIUD Pharma", "Ibuprofen", "200 mg",
         "Filmtabletten", "20 St", DISPENSING_PHARMACY, 295, 18, SUPPLY_AVAILABLE, "Ibu 200"},
        {42603267, "ben-u-ron 125 mg Zäpfchen", "bene-Arzneimittel", "Paracetamol", "125 mg",
         "Zäpfchen", "10 St", DISPENSING_PHARMACY, 357, 9, SUPPLY_AVAILABLE,
         "Paracetamol Zäpfchen;Fieberzäpfchen"},
        {50536869, "Otriven 0,1 % Nasenspray", "Haleon", "Xylometazolin", "0,1 %", "Nasenspray",
         "10 ml", DISPENSING_PHARMACY, 595, 16, SUPPLY_AVAILABLE, "Otriven"},
        {63615524, "Ozempic 1 mg Injektionslösung im Fertigpen", "Novo Nordisk", "Semaglutid",
         "1 mg", "Injektionslösung", "1 St", DISPENSING_RX, 9449, 0, SUPPLY_SHORTAGE,
         "Ozempic;Semaglutid"},
        {36640100, "Folsäure 400 µg Tabletten", "Hevert", "Folsäure", "400 µg", "Tabletten",
         "100 St", DISPENSING_FREE, 695, 17, SUPPLY_AVAILABLE, "Folsäure;Folsaeure"},
    };
    if (!ix) {
        ix = search_new();
        for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++)
            search_add(ix, &demo[i]);
        search_finish(ix);
    }
    return ix;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf folded = BUF_INIT;
    text_fold((const char *)data, size, &folded);
    for (size_t i = 0; i < folded.len; i++) {
        char c = folded.data[i];
        REQUIRE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' || c == '.');
    }
    REQUIRE(!folded.len || (folded.data[0] != ' ' && folded.data[folded.len - 1] != ' '));
    buf_free(&folded);

    search_hit hits[3];
    size_t n = search_query(index_once(), (const char *)data, size, hits, 3);
    REQUIRE(n <= 3);
    for (size_t i = 1; i < n; i++)
        REQUIRE(hits[i].score <= hits[i - 1].score);
    return 0;
}
