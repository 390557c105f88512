/* od.c — text for the OD_E* error codes (od.h). */
#include "od.h"

const char *od_strerror(int err)
{
    if (err == 0) return "success";
    switch (err) {
#define OD_ERRNO_CASE(name, text) case OD_E##name: return text;
        OD_ERRNO_MAP(OD_ERRNO_CASE)
#undef OD_ERRNO_CASE
    default: return "unknown error";
    }
}
