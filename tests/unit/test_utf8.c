/* utf8_valid against RFC 3629's edges: every boundary of the well-formed
 * table, overlongs, surrogates, truncations and code points past U+10FFFF. */
#include "protocol/utf8.h"
#include "tests/unit/check.h"

#define OK(s) CHECK(utf8_valid(s, sizeof(s) - 1))
#define BAD(s) CHECK(!utf8_valid(s, sizeof(s) - 1))

int main(void)
{
    OK("");
    OK("plain/key.txt");
    OK("nul\0inside"); /* well-formed; callers that refuse NUL check for it */
    OK("\xc2\x80");             /* U+0080 */
    OK("\xdf\xbf");             /* U+07FF */
    OK("\xe0\xa0\x80");         /* U+0800 */
    OK("\xed\x9f\xbf");         /* U+D7FF, before the surrogates */
    OK("\xee\x80\x80");         /* U+E000, after them */
    OK("\xef\xbf\xbf");         /* U+FFFF */
    OK("\xf0\x90\x80\x80");     /* U+10000 */
    OK("\xf4\x8f\xbf\xbf");     /* U+10FFFF */
    OK("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8c\x8a");

    BAD("\x80");                /* a lone continuation byte */
    BAD("\xbf");
    BAD("\xc0\x80");            /* overlong NUL */
    BAD("\xc1\xbf");            /* overlong */
    BAD("\xe0\x9f\xbf");        /* overlong three-byte */
    BAD("\xf0\x8f\xbf\xbf");    /* overlong four-byte */
    BAD("\xed\xa0\x80");        /* U+D800 */
    BAD("\xed\xbf\xbf");        /* U+DFFF */
    BAD("\xf4\x90\x80\x80");    /* U+110000 */
    BAD("\xf5\x80\x80\x80");
    BAD("\xff");
    BAD("h\xff");
    BAD("\xc3");                /* truncated */
    BAD("\xe2\x82");
    BAD("\xf0\x9f\x8c");
    BAD("\xe2\x28\xa1");        /* bad continuation */
    BAD("\xf0\x9f\x8c\x28");
    puts("utf8: ok");
    return 0;
}
