/*
 * mem.h — allocation that never returns NULL.
 *
 * ocppd bounds its memory with explicit caps (frame size, queues, connection count) instead of
 * recovering from allocation failure; running out of memory is fatal and logged once.
 */
#ifndef OD_MEM_H
#define OD_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formatted, heap-allocated string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
