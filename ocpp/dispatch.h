/*
 * dispatch.h — from one complete text message to its answer.
 *
 * Parses the OCPP-J envelope, routes CALLs (known action? charger-initiated? may this charger
 * send it in its registration state?), validates the payload against the official schema, runs
 * the typed handler, validates the reply, and queues it behind the current group commit.
 * CALLRESULT/CALLERROR go to the pending CSMS-initiated call. This is the one place where
 * protocol failures become CALLERRORs, and only in answer to a CALL.
 */
#ifndef OCPP_DISPATCH_H
#define OCPP_DISPATCH_H

#include <stddef.h>

struct conn;

void dispatch_message(struct conn *c, const char *text, size_t len);

#endif
