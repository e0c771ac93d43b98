/* Unit tests of the S3 XML writer and reader: the writer's output compared
 * byte for byte, timestamps, escaping that survives a round trip through the
 * reader; the reader on the request bodies S3 gets (CompleteMultipartUpload,
 * DeleteObjects), and on malformed and hostile input, which must give NULL
 * and never a crash. Documents are parsed from exactly sized heap copies so
 * that, under ASan, any read past the end fails. */
#include "protocol/xml.h"

#include "tests/unit/check.h"

#define S3NS "http://s3.amazonaws.com/doc/2006-03-01/"

static struct xml_node *parse_n(const char *doc, size_t n, const char **err)
{
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL);
    memcpy(copy, doc, n);
    struct xml_node *root = xml_parse(copy, n, err);
    free(copy);
    return root;
}

static struct xml_node *parse(const char *doc) { return parse_n(doc, strlen(doc), NULL); }

static void check_rejected_n(const char *doc, size_t n)
{
    const char *err = NULL;
    struct xml_node *root = parse_n(doc, n, &err);
    if (root) {
        fprintf(stderr, "accepted: \"%.*s\"\n", (int)(n > 200 ? 200 : n), doc);
        CHECK(0);
    }
    CHECK(err != NULL && *err);
    /* err is optional */
    CHECK(parse_n(doc, n, NULL) == NULL);
}

static void check_rejected(const char *doc) { check_rejected_n(doc, strlen(doc)); }

static size_t count_children(const struct xml_node *n, const char *name)
{
    size_t k = 0;
    for (const struct xml_node *c = n->child; c; c = c->next)
        if (!name || strcmp(c->name, name) == 0)
            k++;
    return k;
}

static const char *child_text(const struct xml_node *n, const char *name)
{
    const struct xml_node *c = xml_child(n, name);
    CHECK(c != NULL);
    CHECK(strlen(c->text) == c->text_len);
    return c->text;
}

/* ---- writer ---- */

static char *take(struct xw *w)
{
    size_t len;
    char *s = xw_take(w, &len);
    CHECK(s != NULL && strlen(s) == len);
    return s;
}

static void test_writer_list_bucket(void)
{
    struct xw w;
    xw_init(&w);
    xw_doc_begin(&w, "ListBucketResult", S3NS);
    xw_elem(&w, "Name", "my-bucket");
    xw_elem(&w, "Prefix", "");
    xw_elem_u64(&w, "MaxKeys", 1000);
    xw_elem_u64(&w, "KeyCount", 2);
    xw_elem(&w, "IsTruncated", "false");
    xw_open(&w, "Contents");
    xw_elem(&w, "Key", "a&b <c> \"d\" 'e'.txt");
    xw_elem_time(&w, "LastModified", 1255369830000ull);
    xw_elem(&w, "ETag", "\"9b2cf535f27731c974343645a3985328\"");
    xw_elem_u64(&w, "Size", 18446744073709551615ull);
    xw_elem(&w, "StorageClass", "STANDARD");
    xw_close(&w, "Contents");
    xw_open(&w, "Contents");
    xw_elemn(&w, "Key", "caf\xc3\xa9/x\ry\n\tz\x01!ignored", 14);
    xw_elem_time(&w, "LastModified", 0);
    xw_close(&w, "Contents");
    xw_open(&w, "CommonPrefixes");
    xw_elem(&w, "Prefix", "photos/");
    xw_close(&w, "CommonPrefixes");
    xw_close(&w, "ListBucketResult");
    char *s = take(&w);
    CHECK_STREQ(s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>my-bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><KeyCount>2</KeyCount>"
        "<IsTruncated>false</IsTruncated>"
        "<Contents><Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;.txt</Key>"
        "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>"
        "<Size>18446744073709551615</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>caf\xc3\xa9/x&#13;y\n\tz&#1;!</Key>"
        "<LastModified>1970-01-01T00:00:00.000Z</LastModified></Contents>"
        "<CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>"
        "</ListBucketResult>");
    free(s);

    /* the writer is reusable after a take, and xw_free on an empty one is fine */
    xw_doc_begin(&w, "Error", NULL);
    xw_elem(&w, "Code", "NoSuchKey");
    xw_close(&w, "Error");
    s = take(&w);
    CHECK_STREQ(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code></Error>");
    free(s);
    xw_free(&w);

    /* an empty writer hands over an empty string */
    xw_init(&w);
    s = take(&w);
    CHECK_STREQ(s, "");
    free(s);

    /* growth past the first buffer */
    xw_init(&w);
    xw_open(&w, "R");
    for (int i = 0; i < 5000; i++)
        xw_elem(&w, "K", "<&>");
    xw_close(&w, "R");
    size_t len;
    s = xw_take(&w, &len);
    CHECK(len == 3 + 5000 * (3 + 13 + 4) + 4);
    free(s);
}

static void check_time(uint64_t ms, const char *want)
{
    struct xw w;
    char expect[128];
    xw_init(&w);
    xw_elem_time(&w, "T", ms);
    char *s = take(&w);
    snprintf(expect, sizeof expect, "<T>%s</T>", want);
    CHECK_STREQ(s, expect);
    free(s);
}

static void test_writer_times(void)
{
    check_time(0, "1970-01-01T00:00:00.000Z");
    check_time(1255369830000ull, "2009-10-12T17:50:30.000Z");
    check_time(1255369830123ull, "2009-10-12T17:50:30.123Z");
    check_time(1255369830007ull, "2009-10-12T17:50:30.007Z");
    check_time(951782400000ull, "2000-02-29T00:00:00.000Z");    /* leap day of a 400-year */
    check_time(951868799999ull, "2000-02-29T23:59:59.999Z");
    check_time(4107542400000ull, "2100-03-01T00:00:00.000Z");   /* 2100 is not a leap year */
    check_time(1735689599999ull, "2024-12-31T23:59:59.999Z");
    check_time(1735689600000ull, "2025-01-01T00:00:00.000Z");
    check_time(253402300799999ull, "9999-12-31T23:59:59.999Z");
}

/* Text the writer escapes comes back from the reader unchanged. */
static void test_round_trip(void)
{
    static const char chars[] = "aZ09 &<>\"';:/?#%+=\t\r\n";
    for (int round = 0; round < 200; round++) {
        char key[64];
        size_t n = test_rand() % sizeof key;
        for (size_t i = 0; i < n; i++) {
            if (test_rand() % 5 == 0 && i + 3 <= n) { /* a UTF-8 character */
                memcpy(key + i, "\xe2\x82\xac", 3);
                i += 2;
            } else {
                key[i] = chars[test_rand() % (sizeof chars - 1)];
            }
        }
        struct xw w;
        xw_init(&w);
        xw_doc_begin(&w, "Delete", S3NS);
        xw_open(&w, "Object");
        xw_elemn(&w, "Key", key, n);
        xw_close(&w, "Object");
        xw_close(&w, "Delete");
        size_t len;
        char *s = xw_take(&w, &len);
        struct xml_node *root = parse_n(s, len, NULL);
        CHECK(root != NULL);
        const struct xml_node *k = xml_child(xml_child(root, "Object"), "Key");
        CHECK(k != NULL && k->text_len == n && memcmp(k->text, key, n) == 0);
        xml_free(root);
        free(s);
    }
}

/* ---- reader ---- */

static const char complete_mpu[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "  <Part>\n"
    "    <ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag>\n"
    "    <ChecksumCRC32>AAAAAA==</ChecksumCRC32>\n"
    "    <PartNumber>1</PartNumber>\n"
    "  </Part>\n"
    "  <Part><ETag>&quot;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&quot;</ETag><PartNumber>2</PartNumber></Part>\n"
    "  <Part><PartNumber>3</PartNumber><ETag>\"bbbb\"</ETag></Part>\n"
    "</CompleteMultipartUpload>\n";

static void test_complete_multipart(void)
{
    const char *err = NULL;
    struct xml_node *root = parse_n(complete_mpu, strlen(complete_mpu), &err);
    CHECK(root != NULL);
    CHECK_STREQ(root->name, "CompleteMultipartUpload");
    CHECK(root->next == NULL);
    CHECK(count_children(root, NULL) == 3);
    CHECK(count_children(root, "Part") == 3);

    static const char *etags[] = {"\"7778aef83f66abc1fa1e8477f296d394\"",
                                  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "\"bbbb\""};
    static const char *nums[] = {"1", "2", "3"};
    int i = 0;
    for (const struct xml_node *p = root->child; p; p = p->next, i++) {
        CHECK_STREQ(p->name, "Part");
        CHECK_STREQ(child_text(p, "ETag"), etags[i]);
        CHECK_STREQ(child_text(p, "PartNumber"), nums[i]);
    }
    const struct xml_node *p1 = root->child;
    CHECK_STREQ(child_text(p1, "ChecksumCRC32"), "AAAAAA==");
    CHECK(xml_child(p1->next, "ChecksumCRC32") == NULL);
    /* the whitespace between elements is the Part's own text, kept */
    CHECK_STREQ(p1->text, "\n    \n    \n    \n  ");
    /* a leaf without text has "" */
    CHECK(xml_child(root, "Nope") == NULL);
    CHECK(xml_child(NULL, "Part") == NULL);
    xml_free(root);

    /* the same without a namespace, and with a prefix: names are local */
    root = parse("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
                 "</CompleteMultipartUpload>");
    CHECK(root != NULL && strcmp(root->name, "CompleteMultipartUpload") == 0);
    xml_free(root);
    root = parse("<s3:CompleteMultipartUpload xmlns:s3=\"" S3NS "\"><s3:Part><s3:PartNumber>1"
                 "</s3:PartNumber></s3:Part></s3:CompleteMultipartUpload>");
    CHECK(root != NULL && strcmp(root->name, "CompleteMultipartUpload") == 0);
    CHECK_STREQ(child_text(root->child, "PartNumber"), "1");
    xml_free(root);
}

static void test_delete_objects(void)
{
    static const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<Delete xmlns=\"" S3NS "\"><Quiet>true</Quiet>"
        "<Object><Key>a&amp;b</Key></Object>"
        "<Object><Key>caf\xc3\xa9 \xe4\xb8\xad&#x6587;&#128512;</Key><VersionId>v1</VersionId></Object>"
        "<Object><Key>  spaced key  </Key></Object>"
        "<Object><Key><![CDATA[<raw> & ]]>tail</Key></Object>"
        "<Object><Key>cr&#13;lf&#10;tab&#9;</Key></Object>"
        "<Object><Key></Key></Object>"
        "<Object><Key/></Object>"
        "</Delete>";
    struct xml_node *root = parse(doc);
    CHECK(root != NULL);
    CHECK_STREQ(root->name, "Delete");
    CHECK_STREQ(child_text(root, "Quiet"), "true");
    CHECK(count_children(root, "Object") == 7);

    static const char *keys[] = {"a&b",
                                 "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87\xf0\x9f\x98\x80",
                                 "  spaced key  ",
                                 "<raw> & tail",
                                 "cr\rlf\ntab\t",
                                 "",
                                 ""};
    int i = 0;
    for (const struct xml_node *o = root->child; o; o = o->next) {
        if (strcmp(o->name, "Object") != 0)
            continue;
        CHECK_STREQ(child_text(o, "Key"), keys[i]);
        i++;
    }
    CHECK_STREQ(child_text(root->child->next->next, "VersionId"), "v1");
    xml_free(root);

    /* a NUL inside the text cannot be written in XML at all */
    static const char nul[] = "<Delete><Key>a\0b</Key></Delete>";
    check_rejected_n(nul, sizeof nul - 1);
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "",
        " ",
        "garbage",
        "\x89PNG\r\n\x1a\n",
        "<",
        "<Delete>",
        "<Delete><Object></Delete>",
        "<Delete><Object><Key>k</Key></Delete>",
        "<Delete></Deleted>",
        "<a></a><b></b>",                         /* two roots */
        "<a/><a/>",
        "<a></a>junk",
        "text<a/>",
        "<a>&foo;</a>",                           /* undefined entity */
        "<a>&#0;</a>",
        "<a>&#1;</a>",                            /* not an XML 1.0 character */
        "<a>& b</a>",
        "<a><b></a></b>",
        "<a b=c/>",
        "<a b=\"1\" b=\"2\"/>",
        "<s3:a/>",                                /* unbound prefix */
        "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><a/>",
        "<a>\xff\xfe</a>",                        /* not UTF-8 */
        "<!DOCTYPE a><a/>",
        "<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a>&x;</a>",
        "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
        "<!DOCTYPE a [<!ENTITY % p SYSTEM \"http://127.0.0.1/\"> %p;]><a/>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_rejected(bad[i]);
}

static void test_billion_laughs(void)
{
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE lolz [\n"
        " <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
        " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
        " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
        " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
        " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
        " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
        "]>\n"
        "<Delete><Object><Key>&lol9;</Key></Object></Delete>\n";
    const char *err = NULL;
    CHECK(parse_n(doc, strlen(doc), &err) == NULL);
    CHECK(err != NULL && strstr(err, "not allowed") != NULL);
}

/* depth open elements nested, each closed; the innermost has text */
static char *nested(int depth)
{
    size_t cap = (size_t)depth * 8 + 16, len = 0;
    char *s = malloc(cap);
    CHECK(s != NULL);
    for (int i = 0; i < depth; i++)
        len += (size_t)sprintf(s + len, "<e>");
    len += (size_t)sprintf(s + len, "x");
    for (int i = 0; i < depth; i++)
        len += (size_t)sprintf(s + len, "</e>");
    return s;
}

static void test_limits(void)
{
    const char *err;

    char *s = nested(XML_MAX_DEPTH);
    struct xml_node *root = parse(s);
    CHECK(root != NULL);
    const struct xml_node *n = root;
    for (int i = 1; i < XML_MAX_DEPTH; i++)
        n = n->child;
    CHECK(n != NULL && n->child == NULL && strcmp(n->text, "x") == 0);
    xml_free(root);
    free(s);

    s = nested(XML_MAX_DEPTH + 1);
    err = NULL;
    CHECK(parse_n(s, strlen(s), &err) == NULL);
    CHECK(err != NULL && strstr(err, "deep") != NULL);
    free(s);
    s = nested(100000); /* far deeper: stopped early, not a stack overflow */
    CHECK(parse(s) == NULL);
    free(s);

    /* element count: the root and its children */
    for (int total = XML_MAX_NODES; total <= XML_MAX_NODES + 1; total++) {
        size_t cap = (size_t)total * 4 + 16, len = 0;
        s = malloc(cap);
        CHECK(s != NULL);
        len += (size_t)sprintf(s, "<r>");
        for (int i = 1; i < total; i++)
            len += (size_t)sprintf(s + len, "<a/>");
        len += (size_t)sprintf(s + len, "</r>");
        err = NULL;
        root = parse_n(s, len, &err);
        if (total <= XML_MAX_NODES) {
            CHECK(root != NULL);
            CHECK(count_children(root, "a") == (size_t)total - 1);
            xml_free(root);
        } else {
            CHECK(root == NULL);
            CHECK(err != NULL && strstr(err, "many") != NULL);
        }
        free(s);
    }

    /* size: a document of exactly XML_MAX_BYTES is read, one byte more is not */
    size_t big = XML_MAX_BYTES;
    s = malloc(big + 1);
    CHECK(s != NULL);
    memcpy(s, "<r>", 3);
    memset(s + 3, 'x', big - 7);
    memcpy(s + big - 4, "</r>", 4);
    root = parse_n(s, big, NULL);
    CHECK(root != NULL && root->text_len == big - 7);
    xml_free(root);
    memcpy(s + big - 4, "x</r>", 5);
    err = NULL;
    CHECK(parse_n(s, big + 1, &err) == NULL);
    CHECK(err != NULL && strstr(err, "large") != NULL);
    free(s);
}

/* Every proper prefix of a valid document is rejected (the root is not
 * closed until the last '>'), and so is every document with a byte changed
 * into one of a few troublemakers: no crash, no leak either way. */
static void test_truncated_and_mutated(void)
{
    size_t n = strlen(complete_mpu);
    /* the trailing newline after the root is optional */
    for (size_t len = 0; len < n - 1; len++)
        check_rejected_n(complete_mpu, len);
    struct xml_node *root = parse_n(complete_mpu, n - 1, NULL);
    CHECK(root != NULL);
    xml_free(root);

    char *m = malloc(n);
    CHECK(m != NULL);
    static const char pick[] = "<>/&;\"'=x \0\xff";
    for (int round = 0; round < 3000; round++) {
        memcpy(m, complete_mpu, n);
        m[test_rand() % n] = pick[test_rand() % (sizeof pick - 1)];
        if (test_rand() % 2)
            m[test_rand() % n] = (char)(test_rand() >> 56);
        root = parse_n(m, n, NULL);
        xml_free(root);
    }
    free(m);
    xml_free(NULL);
}

int main(void)
{
    test_writer_list_bucket();
    test_writer_times();
    test_round_trip();
    test_complete_multipart();
    test_delete_objects();
    test_malformed();
    test_billion_laughs();
    test_limits();
    test_truncated_and_mutated();
    puts("test_xml: ok");
    return 0;
}
