/* `tidepool hosts`: hosts-file lines that send AWS host names to tidepool. */
#ifndef TP_HOSTS_H
#define TP_HOSTS_H

/* argv[0] is "hosts". Returns the exit status. */
int hosts_main(int argc, char **argv);

#endif
