/*
 * peerlimit.h — per-source-address limits on charge-point handshakes: how many connections one
 * address holds, how many of its handshakes may be in progress at once (a slow handshake holds
 * one of lws's header tables, which every new connection needs), how fast it may open new ones
 * (token bucket), and how many failed password checks it may cause (token bucket, because each
 * costs a PBKDF2 run on the loop thread).
 *
 * Not the transport: ws.c asks before it accepts an upgrade and reports opens and closes. Time
 * is passed in (milliseconds, monotonic), so the module is plain data and testable.
 *
 * Addresses: IPv4 (and IPv4-mapped IPv6) by the full address; IPv6 by its /64, since one
 * subscriber or site routinely holds a whole /64 and could otherwise count as 2^64 sources.
 *
 * Memory: an address holding connections or handshakes in progress has one entry for as long as
 * it does (so such entries never outnumber open sockets); entries of addresses with no connection are kept, for
 * their buckets, in a least-recently-used list capped at PEERLIMIT_IDLE_MAX and evicted from its
 * old end. An evicted address starts again with full buckets: a flood spread over more addresses
 * than that cap is not rate limited per address, but it cannot grow memory either.
 */
#ifndef OD_PEERLIMIT_H
#define OD_PEERLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PEERLIMIT_IDLE_MAX 4096

/* A source as limited: 16 bytes, IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64. */
struct peerlimit_addr {
    uint8_t b[16];
};

/* The limits; a zero turns that limit off. */
struct peerlimit_limits {
    int max_conns;         /* concurrent connections per address */
    int max_pending;       /* handshakes in progress (accepted, upgrade not reached) */
    double hs_rate;        /* handshakes per second, sustained */
    double hs_burst;       /* handshakes at once (bucket size) */
    double auth_per_min;   /* failed password checks per minute, also the bucket size */
};

enum peerlimit_verdict {
    PEERLIMIT_OK,
    PEERLIMIT_RATE,  /* too many handshakes lately */
    PEERLIMIT_CONNS, /* too many open connections */
    PEERLIMIT_PENDING, /* too many handshakes in progress */
    PEERLIMIT_AUTH,  /* too many failed password checks lately */
};

struct peerlimit;

/* Fills out from a socket address (AF_INET or AF_INET6). Returns 0, or OD_EINVAL for other
 * families. */
int peerlimit_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                                 struct peerlimit_addr *out);
/* 127.0.0.0/8 or ::1. */
bool peerlimit_addr_is_loopback(const struct peerlimit_addr *a);
/* The address as text for logs ("192.0.2.7", "2001:db8:1:2::/64"). */
void peerlimit_addr_format(const struct peerlimit_addr *a, char *buf, size_t len);

/* A table with these limits (copied). Free with peerlimit_free (NULL is a no-op). */
struct peerlimit *peerlimit_new(const struct peerlimit_limits *lim);
void peerlimit_free(struct peerlimit *pl);

/* A handshake from a at now_ms: takes one handshake token and checks the open-connection count.
 * On a refusal *retry_after_s (>= 1) says when trying again is worth it. */
enum peerlimit_verdict peerlimit_handshake(struct peerlimit *pl, const struct peerlimit_addr *a,
                                           int64_t now_ms, int *retry_after_s);
/* Whether a password may be checked the slow way for a now (takes nothing; a failure is charged
 * by peerlimit_auth_failed). PEERLIMIT_OK or PEERLIMIT_AUTH with *retry_after_s. */
enum peerlimit_verdict peerlimit_auth_check(struct peerlimit *pl, const struct peerlimit_addr *a,
                                            int64_t now_ms, int *retry_after_s);
void peerlimit_auth_failed(struct peerlimit *pl, const struct peerlimit_addr *a, int64_t now_ms);

/* A TCP connection from a was accepted: PEERLIMIT_PENDING if a already has max_pending
 * handshakes in progress (the caller hangs up), else PEERLIMIT_OK. Takes nothing. */
enum peerlimit_verdict peerlimit_accept_check(struct peerlimit *pl, const struct peerlimit_addr *a);
/* A handshake from a is in progress / is no longer (upgrade reached, or the socket closed). */
void peerlimit_pending_add(struct peerlimit *pl, const struct peerlimit_addr *a, int64_t now_ms);
void peerlimit_pending_done(struct peerlimit *pl, const struct peerlimit_addr *a);
int peerlimit_pending(const struct peerlimit *pl, const struct peerlimit_addr *a);

/* A connection from a was established / has closed (each open is matched by one close). */
void peerlimit_conn_opened(struct peerlimit *pl, const struct peerlimit_addr *a, int64_t now_ms);
void peerlimit_conn_closed(struct peerlimit *pl, const struct peerlimit_addr *a);

/* Open connections from a (0 if unknown). */
int peerlimit_conns(const struct peerlimit *pl, const struct peerlimit_addr *a);
/* Entries held: with connections, and idle (at most PEERLIMIT_IDLE_MAX). */
size_t peerlimit_entries(const struct peerlimit *pl);
size_t peerlimit_idle_entries(const struct peerlimit *pl);

#endif
