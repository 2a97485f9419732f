#include "check.h"
#include "text.h"

static const char *fold(const char *s)
{
    static buf b = BUF_INIT;
    buf_reset(&b);
    text_fold(s, strlen(s), &b);
    return buf_cstr(&b);
}

int main(void)
{
    /* umlauts, their digraphs and plain vowels fold alike */
    CHECK_EQ_STR(fold("Zäpfchen"), "zapfchen");
    CHECK_EQ_STR(fold("Zaepfchen"), "zapfchen");
    CHECK_EQ_STR(fold("ZAPFCHEN"), "zapfchen");
    CHECK_EQ_STR(fold("Müller"), fold("Mueller"));
    CHECK_EQ_STR(fold("Öl"), fold("Oel"));
    CHECK_EQ_STR(fold("Süßorangenschalenöl"), "sussorangenschalenol");
    CHECK_EQ_STR(fold("STRASSE"), fold("Straße"));
    CHECK_EQ_STR(fold("Crème"), "creme");
    /* numbers: units split off, decimal commas kept inside the number */
    CHECK_EQ_STR(fold("400mg"), "400 mg");
    CHECK_EQ_STR(fold("Ibuprofen 400 mg"), "ibuprofen 400 mg");
    CHECK_EQ_STR(fold("0,1 %"), "0.1");
    CHECK_EQ_STR(fold("1.5 mg"), "1.5 mg");
    CHECK_EQ_STR(fold("Vitamin D3"), "vitamin d 3");
    CHECK_EQ_STR(fold("400 µg"), "400 ug");
    /* punctuation and spacing collapse to single spaces, no edges */
    CHECK_EQ_STR(fold("  ben-u-ron!!  "), "ben u ron");
    CHECK_EQ_STR(fold("Haben Sie Ibuprofen 400 vorrätig?"), "haben sie ibuprofen 400 vorratig");
    CHECK_EQ_STR(fold(""), "");
    CHECK_EQ_STR(fold("?!"), "");
    CHECK_EQ_STR(fold("😀 Aspirin"), "aspirin");
    /* a comma between words is a separator, not a decimal */
    CHECK_EQ_STR(fold("Salbe, 20 g"), "salbe 20 g");
    /* invalid UTF-8 bytes act as separators */
    CHECK_EQ_STR(fold("Ibu\xff\xfeprofen"), "ibu profen");
    CHECK_EQ_STR(fold("\xc3"), "");

    /* validation */
    CHECK(text_utf8_valid("Zäpfchen", strlen("Zäpfchen")));
    CHECK(text_utf8_valid("", 0));
    CHECK(!text_utf8_valid("\xc3\x28", 2));         /* bad continuation */
    CHECK(!text_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!text_utf8_valid("\xe0\x80\xaf", 3));     /* overlong 3-byte */
    CHECK(!text_utf8_valid("\xed\xa0\x80", 3));     /* UTF-16 surrogate */
    CHECK(!text_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!text_utf8_valid("\xe2\x82", 2));         /* truncated */
    CHECK(text_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */

    /* tokens */
    const char *f = "ibuprofen 400 mg";
    text_token t[4];
    CHECK_EQ_INT(text_tokens(f, strlen(f), t, 4), 3);
    CHECK_EQ_INT(t[1].len, 3);
    CHECK(memcmp(t[1].p, "400", 3) == 0);
    CHECK_EQ_INT(text_tokens(f, strlen(f), t, 1), 3); /* counts beyond max */
    CHECK_EQ_INT(text_tokens("", 0, t, 4), 0);
    CHECK(text_is_number("400", 3));
    CHECK(text_is_number("0.1", 3));
    CHECK(!text_is_number("0.1.2", 5));
    CHECK(!text_is_number("4a", 2));
    CHECK(!text_is_number(".5", 2));
    return check_done();
}
