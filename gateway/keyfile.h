/*
 * gateway/keyfile.h - is a configuration holding keys readable by others?
 */
#ifndef GW_KEYFILE_H
#define GW_KEYFILE_H

#include "../mapping/config.h"

/* When cfg holds a psk_key (a server's or a device's) and its file
 * (cfg->file) can be read by users outside its owner and group, or a
 * key_file (security "rpk"/"x509") can, warns (to the log, or stdout when
 * to_stdout: --check) with the fix, once per file; returns -EACCES when
 * cfg->refuse_readable_keys asks to refuse that, else 0. A
 * file that cannot be stat()ed is the loader's business: 0. */
int gw_keyfile_check(const gw_config_t *cfg, bool to_stdout);

#endif
