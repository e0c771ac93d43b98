/* The local CA and the leaf certificates it signs; see tls.h.
 *
 * Keys are RSA 2048: the KPL's daemon (OpenSSL 1.0.1) asks for ECDHE-RSA
 * suites, and every client in sight (Java 8+, old OpenSSL, browsers) accepts
 * RSA certificates. The CA lives in DIR/tls (ca.pem, and ca-key.pem readable by
 * the owner only) so a client told to trust it once keeps working after
 * restarts. Leaves are not written anywhere: minting one costs a signature
 * (about a millisecond), and they all share one key made at start, which lives
 * only in memory because nobody needs to trust or pin it.
 *
 * Leaf validity stays under 397 days, the most Apple and Chrome accept; a leaf
 * that would expire within a day is minted again.
 *
 * The README suggests adding the CA to a system trust store, so it is
 * name-constrained (critical): it can only vouch for localhost, amazonaws.com,
 * the --s3-domain names (and their subdomains) and loopback addresses, never
 * for a bank's name, even if its key leaks. A CA without those constraints
 * (an older version's, or one made before an --s3-domain was added) is
 * replaced at start, with a warning: clients must trust the new one. */
#include "server/net/tls.h"
#include "server/runtime/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_BITS 2048
#define DAY 86400
#define CA_DAYS 3653         /* ten years */
#define LEAF_DAYS 396        /* with the hour of back-dating, under 397 days */
#define BACKDATE 3600        /* tolerates a client clock a little behind */
#define LEAF_MAX 4096        /* distinct names minted per run: bounds what SNI can make us keep */
#define CN_MAX 64            /* X.520 upper bound of a common name */

struct leaf {
    struct leaf *next;
    time_t not_after;
    gnutls_pcert_st pcert;
    char name[];
};

struct tls_ca {
    char cert_path[PATH_MAX];
    gnutls_x509_crt_t crt;
    gnutls_privkey_t key;
    gnutls_privkey_t leaf_key;   /* shared by every leaf */
    gnutls_pubkey_t leaf_pub;
    pthread_mutex_t mu;          /* guards leaves: minting is serialised too */
    struct leaf *leaves;         /* newest first; never freed before close (sessions use them) */
    unsigned n_leaves;
};

/* ---- files ---- */

/* Writes through a temporary file and a rename, so a crash leaves either the
 * old file or the whole new one. */
static int write_file(const char *path, const gnutls_datum_t *d, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    int fd, rc = -1;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    (void)unlink(tmp); /* a stale one would keep its old mode */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (write(fd, d->data, d->size) == (ssize_t)d->size && fsync(fd) == 0)
        rc = 0;
    if (close(fd) != 0 || rc != 0 || rename(tmp, path) != 0) {
        (void)unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- certificate fields ---- */

/* A positive 127-bit random serial, with no leading zero byte (DER keeps
 * integers minimal). */
static int set_serial(gnutls_x509_crt_t crt)
{
    unsigned char serial[16];

    if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) < 0)
        return GNUTLS_E_RANDOM_FAILED;
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    return gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
}

/* What the CA and the leaves have in common: X.509 v3, a random serial, the
 * validity, the public key and its identifier. */
static int set_common(gnutls_x509_crt_t crt, gnutls_pubkey_t pub, unsigned days)
{
    unsigned char id[64];
    size_t id_len = sizeof id;
    time_t now = time(NULL);
    int rc;

    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 || (rc = set_serial(crt)) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - BACKDATE)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * DAY)) < 0 ||
        (rc = gnutls_x509_crt_set_pubkey(crt, pub)) < 0 ||
        (rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA1, id, &id_len)) < 0)
        return rc;
    return gnutls_x509_crt_set_subject_key_id(crt, id, id_len);
}

/* ---- the CA ---- */

/* The permitted subtrees: DNS names, then IP address ‖ mask. */
static int permitted(gnutls_x509_name_constraints_t nc, const char *const *domains, unsigned n_domains)
{
    static const unsigned char V4[8] = {127, 0, 0, 0, 255, 0, 0, 0};
    static const unsigned char V6[32] = {[15] = 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const char *const FIXED[] = {"localhost", "amazonaws.com"};
    int rc = 0;

    for (unsigned i = 0; i < 2 + n_domains && rc >= 0; i++) {
        const char *d = i < 2 ? FIXED[i] : domains[i - 2];
        d += *d == '.'; /* ".example.com" and "example.com" name the same subtree here */
        gnutls_datum_t name = {(unsigned char *)d, (unsigned)strlen(d)};
        rc = gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_DNSNAME, &name);
    }
    if (rc >= 0)
        rc = gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_IPADDRESS,
                                                        &(gnutls_datum_t){(unsigned char *)V4, sizeof V4});
    if (rc >= 0)
        rc = gnutls_x509_name_constraints_add_permitted(nc, GNUTLS_SAN_IPADDRESS,
                                                        &(gnutls_datum_t){(unsigned char *)V6, sizeof V6});
    return rc;
}

/* Whether crt's name constraints are critical and permit at least what
 * want does (its first subtree missing from crt goes to *missing). */
static int constrained_to(gnutls_x509_crt_t crt, gnutls_x509_name_constraints_t want, char *missing,
                          size_t len)
{
    gnutls_x509_name_constraints_t have;
    unsigned critical = 0, type, t;
    gnutls_datum_t name, n;
    int ok = 1;

    snprintf(missing, len, "name constraints");
    if (gnutls_x509_name_constraints_init(&have) < 0)
        return 0;
    if (gnutls_x509_crt_get_name_constraints(crt, have, 0, &critical) < 0 || !critical)
        ok = 0;
    for (unsigned i = 0; ok && gnutls_x509_name_constraints_get_permitted(want, i, &type, &name) >= 0; i++) {
        ok = 0;
        for (unsigned j = 0; !ok && gnutls_x509_name_constraints_get_permitted(have, j, &t, &n) >= 0; j++)
            ok = t == type && n.size == name.size && !memcmp(n.data, name.data, n.size);
        if (!ok && type == GNUTLS_SAN_DNSNAME)
            snprintf(missing, len, "the name %.*s", (int)name.size, (const char *)name.data);
        else if (!ok)
            snprintf(missing, len, "loopback addresses");
    }
    gnutls_x509_name_constraints_deinit(have);
    return ok;
}

/* A new key pair and self-signed certificate, written as PEM: the key first,
 * so ca.pem existing means both are complete. */
static int create_ca(const char *cert_path, const char *key_path, gnutls_x509_name_constraints_t nc)
{
    gnutls_privkey_t key = NULL;
    gnutls_pubkey_t pub = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_x509_privkey_t x509 = NULL;
    gnutls_datum_t key_pem = {NULL, 0}, crt_pem = {NULL, 0};
    unsigned char rnd[4];
    char dn[64];
    int rc, saved_errno = 0;

    if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd)) < 0)
        return rc;
    /* The random part tells apart the CAs of several data directories once
     * they sit in one trust store. */
    snprintf(dn, sizeof dn, "CN=tidepool local CA %02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    if ((rc = gnutls_privkey_init(&key)) < 0 || (rc = gnutls_pubkey_init(&pub)) < 0 ||
        (rc = gnutls_x509_crt_init(&crt)) < 0 ||
        (rc = gnutls_privkey_generate2(key, GNUTLS_PK_RSA, KEY_BITS, 0, NULL, 0)) < 0 ||
        (rc = gnutls_pubkey_import_privkey(pub, key, 0, 0)) < 0 ||
        (rc = set_common(crt, pub, CA_DAYS)) < 0 ||
        (rc = gnutls_x509_crt_set_dn(crt, dn, NULL)) < 0 ||
        /* path length 0: it signs leaves, never another CA */
        (rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
        (rc = gnutls_x509_crt_set_name_constraints(crt, nc, 1)) < 0 ||
        (rc = gnutls_x509_crt_privkey_sign(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
        (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crt_pem)) < 0 ||
        (rc = gnutls_privkey_export_x509(key, &x509)) < 0 ||
        (rc = gnutls_x509_privkey_export2(x509, GNUTLS_X509_FMT_PEM, &key_pem)) < 0)
        goto out;
    if (write_file(key_path, &key_pem, 0600) != 0 || write_file(cert_path, &crt_pem, 0644) != 0) {
        rc = GNUTLS_E_FILE_ERROR;
        saved_errno = errno; /* for the caller's message, past the frees below */
    }
out:
    if (key_pem.data != NULL) {
        gnutls_memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    gnutls_free(crt_pem.data);
    if (x509 != NULL)
        gnutls_x509_privkey_deinit(x509);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    if (pub != NULL)
        gnutls_pubkey_deinit(pub);
    if (key != NULL)
        gnutls_privkey_deinit(key);
    errno = saved_errno;
    return rc;
}

/* Whether the certificate's public key is the private key's. */
static int key_matches(gnutls_x509_crt_t crt, gnutls_privkey_t key)
{
    gnutls_pubkey_t a = NULL, b = NULL;
    unsigned char ida[64], idb[64];
    size_t la = sizeof ida, lb = sizeof idb;
    int same = 0;

    if (gnutls_pubkey_init(&a) >= 0 && gnutls_pubkey_init(&b) >= 0 &&
        gnutls_pubkey_import_x509(a, crt, 0) >= 0 && gnutls_pubkey_import_privkey(b, key, 0, 0) >= 0 &&
        gnutls_pubkey_get_key_id(a, GNUTLS_KEYID_USE_SHA256, ida, &la) >= 0 &&
        gnutls_pubkey_get_key_id(b, GNUTLS_KEYID_USE_SHA256, idb, &lb) >= 0)
        same = la == lb && memcmp(ida, idb, la) == 0;
    if (a != NULL)
        gnutls_pubkey_deinit(a);
    if (b != NULL)
        gnutls_pubkey_deinit(b);
    return same;
}

static int load_ca(struct tls_ca *ca, const char *key_path, char *err, size_t errlen)
{
    gnutls_datum_t crt_pem = {NULL, 0}, key_pem = {NULL, 0};
    int rc;

    if ((rc = gnutls_load_file(ca->cert_path, &crt_pem)) < 0 ||
        (rc = gnutls_load_file(key_path, &key_pem)) < 0) {
        snprintf(err, errlen, "cannot read %s or %s", ca->cert_path, key_path);
        goto out;
    }
    if ((rc = gnutls_x509_crt_init(&ca->crt)) < 0 || (rc = gnutls_privkey_init(&ca->key)) < 0 ||
        (rc = gnutls_x509_crt_import(ca->crt, &crt_pem, GNUTLS_X509_FMT_PEM)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(ca->key, &key_pem, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "cannot load the CA in %s: %s", ca->cert_path, gnutls_strerror(rc));
        goto out;
    }
    if (!key_matches(ca->crt, ca->key)) {
        snprintf(err, errlen, "%s is not the certificate of %s", ca->cert_path, key_path);
        rc = GNUTLS_E_CERTIFICATE_KEY_MISMATCH;
    }
out:
    if (key_pem.data != NULL) {
        gnutls_memset(key_pem.data, 0, key_pem.size);
        gnutls_free(key_pem.data);
    }
    gnutls_free(crt_pem.data);
    return rc < 0 ? -1 : 0;
}

/* A new CA in ca->cert_path and key_path, loaded. */
static int new_ca(struct tls_ca *ca, const char *key_path, gnutls_x509_name_constraints_t nc, char *err,
                  size_t errlen)
{
    int rc = create_ca(ca->cert_path, key_path, nc);

    if (rc < 0) {
        snprintf(err, errlen, "cannot create a CA in %s: %s", ca->cert_path,
                 rc == GNUTLS_E_FILE_ERROR ? strerror(errno) : gnutls_strerror(rc));
        return -1;
    }
    return load_ca(ca, key_path, err, errlen);
}

struct tls_ca *tls_ca_open(const char *dir, const char *const *domains, unsigned n_domains, char *err,
                           size_t errlen)
{
    struct tls_ca *ca = calloc(1, sizeof *ca);
    char tls_dir[PATH_MAX], key_path[PATH_MAX], missing[300];
    gnutls_x509_name_constraints_t nc = NULL;
    int rc;

    if (ca == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&ca->mu, NULL);
    if ((size_t)snprintf(tls_dir, sizeof tls_dir, "%s/tls", dir) >= sizeof tls_dir ||
        (size_t)snprintf(ca->cert_path, sizeof ca->cert_path, "%s/ca.pem", tls_dir) >= sizeof ca->cert_path ||
        (size_t)snprintf(key_path, sizeof key_path, "%s/ca-key.pem", tls_dir) >= sizeof key_path) {
        snprintf(err, errlen, "data directory path too long");
        goto fail;
    }
    /* private, like the database (DIR/tls of an older version was 0755);
     * ca.pem in it stays 0644: public, and a copy of it (cp to a trust
     * store) keeps its mode */
    if ((mkdir(tls_dir, 0700) != 0 && errno != EEXIST) || chmod(tls_dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", tls_dir, strerror(errno));
        goto fail;
    }
    if ((rc = gnutls_x509_name_constraints_init(&nc)) < 0 || (rc = permitted(nc, domains, n_domains)) < 0) {
        snprintf(err, errlen, "cannot make the CA's name constraints: %s", gnutls_strerror(rc));
        goto fail;
    }
    if (access(ca->cert_path, F_OK) != 0) {
        if (new_ca(ca, key_path, nc, err, errlen) != 0)
            goto fail;
    } else {
        if (load_ca(ca, key_path, err, errlen) != 0)
            goto fail;
        if (!constrained_to(ca->crt, nc, missing, sizeof missing)) {
            log_msg(LOG_WARN, "tls: the CA in %s lacks %s: replacing it with a new one, which clients must "
                    "trust instead", ca->cert_path, missing);
            gnutls_x509_crt_deinit(ca->crt);
            gnutls_privkey_deinit(ca->key);
            ca->crt = NULL;
            ca->key = NULL;
            if (new_ca(ca, key_path, nc, err, errlen) != 0)
                goto fail;
        }
    }
    gnutls_x509_name_constraints_deinit(nc);
    nc = NULL;
    if ((rc = gnutls_privkey_init(&ca->leaf_key)) < 0 || (rc = gnutls_pubkey_init(&ca->leaf_pub)) < 0 ||
        (rc = gnutls_privkey_generate2(ca->leaf_key, GNUTLS_PK_RSA, KEY_BITS, 0, NULL, 0)) < 0 ||
        (rc = gnutls_pubkey_import_privkey(ca->leaf_pub, ca->leaf_key, 0, 0)) < 0) {
        snprintf(err, errlen, "cannot make the certificates' key: %s", gnutls_strerror(rc));
        goto fail;
    }
    return ca;
fail:
    if (nc != NULL)
        gnutls_x509_name_constraints_deinit(nc);
    tls_ca_close(ca);
    return NULL;
}

const char *tls_ca_cert_path(const struct tls_ca *ca)
{
    return ca->cert_path;
}

/* ---- leaves ---- */

static int add_ip(gnutls_x509_crt_t crt, const char *text)
{
    unsigned char addr[16];

    if (inet_pton(AF_INET, text, addr) == 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 4, GNUTLS_FSAN_APPEND);
    if (inet_pton(AF_INET6, text, addr) == 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 16, GNUTLS_FSAN_APPEND);
    return GNUTLS_E_INVALID_REQUEST;
}

static int loopback(const unsigned char *addr, int v6)
{
    static const unsigned char V6_LOOPBACK[16] = {[15] = 1};

    return v6 ? !memcmp(addr, V6_LOOPBACK, 16) : addr[0] == 127;
}

/* A host name is the leaf's one DNS name. An address (a client that sent no
 * SNI) gets it as an IP name when it is a loopback one, plus the loopback
 * names, since "localhost" may mean either family. Another address (a LAN
 * one, a container's behind a published port) is left out: the CA's name
 * constraints would make clients refuse the whole certificate, which still
 * serves a client that reached it through 127.0.0.1 (docker -p). */
static int set_names(gnutls_x509_crt_t crt, const char *name)
{
    unsigned char addr[16];
    int v4 = inet_pton(AF_INET, name, addr) == 1, rc;

    if (!v4 && inet_pton(AF_INET6, name, addr) != 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                    (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
    if ((loopback(addr, !v4) && (rc = add_ip(crt, name)) < 0) ||
        (rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                                   GNUTLS_FSAN_APPEND)) < 0)
        return rc;
    if (strcmp(name, "127.0.0.1") != 0 && (rc = add_ip(crt, "127.0.0.1")) < 0)
        return rc;
    return strcmp(name, "::1") != 0 ? add_ip(crt, "::1") : 0;
}

/* The signed leaf for name, as DER (gnutls wants a newly signed certificate
 * exported before it is used). */
static int sign_leaf(struct tls_ca *ca, const char *name, gnutls_datum_t *der)
{
    gnutls_x509_crt_t crt;
    unsigned char ca_id[64];
    size_t ca_id_len = sizeof ca_id;
    size_t len = strlen(name);
    int rc;

    if ((rc = gnutls_x509_crt_init(&crt)) < 0)
        return rc;
    if ((rc = set_common(crt, ca->leaf_pub, LEAF_DAYS)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                            len <= CN_MAX ? name : "tidepool",
                                            len <= CN_MAX ? (unsigned)len : 8)) < 0 ||
        (rc = set_names(crt, name)) < 0 ||
        (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                                     GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        (rc = gnutls_x509_crt_get_subject_key_id(ca->crt, ca_id, &ca_id_len, NULL)) < 0 ||
        (rc = gnutls_x509_crt_set_authority_key_id(crt, ca_id, ca_id_len)) < 0 ||
        (rc = gnutls_x509_crt_privkey_sign(crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0)) < 0)
        goto out;
    rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, der);
out:
    gnutls_x509_crt_deinit(crt);
    return rc;
}

static int mint(struct tls_ca *ca, const char *name, struct leaf **out)
{
    size_t len = strlen(name);
    struct leaf *lf;
    gnutls_datum_t der = {NULL, 0};
    int rc;

    if (ca->n_leaves >= LEAF_MAX)
        return GNUTLS_E_MEMORY_ERROR;
    lf = calloc(1, sizeof *lf + len + 1);
    if (lf == NULL)
        return GNUTLS_E_MEMORY_ERROR;
    memcpy(lf->name, name, len + 1);
    lf->not_after = time(NULL) + (time_t)LEAF_DAYS * DAY;
    rc = sign_leaf(ca, name, &der);
    if (rc >= 0)
        rc = gnutls_pcert_import_x509_raw(&lf->pcert, &der, GNUTLS_X509_FMT_DER, 0);
    gnutls_free(der.data);
    if (rc < 0) {
        free(lf);
        return rc;
    }
    lf->next = ca->leaves;
    ca->leaves = lf;
    ca->n_leaves++;
    *out = lf;
    return 0;
}

int tls_ca_leaf(struct tls_ca *ca, const char *name, gnutls_pcert_st **pcert,
                gnutls_privkey_t *key)
{
    time_t soon = time(NULL) + DAY;
    struct leaf *lf;
    int rc = 0;

    /* A list is enough: a run sees a handful of names (LEAF_MAX at worst). */
    pthread_mutex_lock(&ca->mu);
    for (lf = ca->leaves; lf != NULL; lf = lf->next)
        if (strcmp(lf->name, name) == 0 && lf->not_after > soon)
            break;
    if (lf == NULL)
        rc = mint(ca, name, &lf);
    pthread_mutex_unlock(&ca->mu);
    if (rc < 0)
        return rc;
    *pcert = &lf->pcert;
    *key = ca->leaf_key;
    return 0;
}

void tls_ca_close(struct tls_ca *ca)
{
    struct leaf *lf, *next;

    if (ca == NULL)
        return;
    for (lf = ca->leaves; lf != NULL; lf = next) {
        next = lf->next;
        gnutls_pcert_deinit(&lf->pcert);
        free(lf);
    }
    if (ca->leaf_pub != NULL)
        gnutls_pubkey_deinit(ca->leaf_pub);
    if (ca->leaf_key != NULL)
        gnutls_privkey_deinit(ca->leaf_key);
    if (ca->key != NULL)
        gnutls_privkey_deinit(ca->key);
    if (ca->crt != NULL)
        gnutls_x509_crt_deinit(ca->crt);
    pthread_mutex_destroy(&ca->mu);
    free(ca);
}
