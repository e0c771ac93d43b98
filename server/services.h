/* The services this build serves, plugged into the router (server/net/router.c
 * names none itself): by main.c before serving, and by the router's fuzz
 * target. */
#ifndef TP_SERVICES_H
#define TP_SERVICES_H

void services_plug(void);

#endif
