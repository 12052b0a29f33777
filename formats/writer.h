/* writer.h — the generic writer's internals shared with apply and the sharded writer: opening
 * with the identities of the files the output must never replace (every file the input sets
 * read, not just paths), and the list itself, for formats that write more files than the
 * writer's own (a sharded output's shards). */
#ifndef WBR_WRITER_H
#define WBR_WRITER_H

#include "../base/io.h"
#include "format.h"

/* wbr_writer_open with the inputs as identities (may be NULL); the list is copied. */
int wbr_writer_open_ids(wbr_writer **out, wbr_ctx *ctx, const char *path,
                        const wbr_tensorset *layout, const wbr_file_ids *protect,
                        const wbr_writer_options *opts);
/* The files the writer's outputs must not replace (never NULL once open). */
const wbr_file_ids *wbr_writer_protected(const wbr_writer *w);

#endif
