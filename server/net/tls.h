/* HTTPS on a second port (--tls-port), on GnuTLS.
 *
 * tls_ca.c keeps a local CA in DATA/tls and mints a leaf certificate for each
 * name a client asks for (SNI), so clients that trust DATA/tls/ca.pem can
 * reach tidepool under AWS host names. tls.c accepts connections, does the
 * handshake (TLS 1.2/1.3, ALPN h2 and http/1.1) and pumps plaintext through a
 * socketpair whose other end server/http.c serves like any TCP connection. */
#ifndef TP_TLS_H
#define TP_TLS_H

#include <stddef.h>

#include <gnutls/abstract.h>

struct http_server;
struct tls_ca;
struct tls_server;

/* ---- tls_ca.c ---- */

/* Loads DIR/tls/ca.pem and ca-key.pem, creating them (and DIR/tls) on first
 * use or when the CA's name constraints do not permit localhost,
 * amazonaws.com, the n_domains domains and loopback addresses, and makes the
 * key all leaves share. NULL on error, with a message. */
struct tls_ca *tls_ca_open(const char *dir, const char *const *domains, unsigned n_domains, char *err,
                           size_t errlen);
/* Path of the CA certificate clients should trust; valid until tls_ca_close. */
const char *tls_ca_cert_path(const struct tls_ca *ca);
/* The leaf for name: an SNI host name, or an IP address in text form (no SNI:
 * the address the client connected to). Minted on first use and kept until
 * tls_ca_close, so the results stay valid for the sessions that use them.
 * Thread-safe. Returns 0, or a GnuTLS error code. */
int tls_ca_leaf(struct tls_ca *ca, const char *name, gnutls_pcert_st **pcert,
                gnutls_privkey_t *key);
void tls_ca_close(struct tls_ca *ca);

/* ---- tls.c ---- */

/* Binds host:port (0 = a free port) and hands each connection, once its
 * handshake is done, to srv. NULL on error, with a message in err. */
struct tls_server *tls_server_start(const char *host, int port, struct tls_ca *ca,
                                    struct http_server *srv, char *err, size_t errlen);
int tls_server_port(const struct tls_server *tls);
/* Stops accepting and abandons handshakes in progress: once it returns,
 * nothing more reaches srv, which may then be stopped. */
void tls_server_quiesce(struct tls_server *tls);
/* Call after http_server_stop (which closes the plaintext side of every
 * connection): lets the TLS sessions flush and close, then frees everything. */
void tls_server_stop(struct tls_server *tls);

#endif
