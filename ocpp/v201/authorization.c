/*
 * authorization.c — OCPP 2.0.1 functional block C (authorization) as sent by charging
 * stations: Authorize, answered from the token store shared with 1.6, with the token type.
 */
#include "v201.h"

#include "timeutil.h"

#include <string.h>

json_t *v201_id_token_info(const struct model_auth *auth)
{
    /* 2.0.1 has a status of its own for a token nobody knows; 1.6 can only say Invalid. */
    const char *status = !auth->known && strcmp(auth->status, "Invalid") == 0 ? "Unknown"
                                                                              : auth->status;
    json_t *info = json_pack("{s:s}", "status", status);
    if (auth->expiry_ms) {
        char buf[OD_TIME_BUFSZ];
        json_object_set_new(info, "cacheExpiryDateTime",
                            json_string(od_time_format(auth->expiry_ms, buf, sizeof buf)));
    }
    /* The token store keeps a group as a bare id: it is a Central token of ours. */
    if (auth->parent_id_tag[0])
        json_object_set_new(info, "groupIdToken", json_pack("{s:s, s:s}", "idToken",
                                                            auth->parent_id_tag, "type",
                                                            "Central"));
    return info;
}

V201_HANDLER(v201_handle_authorize)
{
    const json_t *tok = json_object_get(req, "idToken");
    struct model_auth auth;
    int rc = model_authorize_typed(&ctx->m, ocpp_json_str(tok, "idToken"),
                                   ocpp_json_str(tok, "type"), &auth);
    if (rc == 0) rc = model_charger_seen(&ctx->m);
    if (rc) return ocpp_internal_error(ctx, rc, err);
    /* No certificate checks yet (docs): certificateStatus is left out rather than guessed. */
    *resp = json_pack("{s:o}", "idTokenInfo", v201_id_token_info(&auth));
    return 0;
}
