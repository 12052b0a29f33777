/* hfdir.h — Hugging Face model directories (formats/hfdir.c): a directory read as the weights it
 * holds (model.safetensors first, as transformers chooses), and a directory written the way
 * save_pretrained lays it out, with the non-weight files the caller names copied beside them. */
#ifndef WBR_HFDIR_H
#define WBR_HFDIR_H

#include "format.h"

/* Reading is wbr_dir_hf (format.h), called by wbr_tensorset_open for a directory. */

/* True when an output path means a model directory: it ends in '/', or it is an existing
 * directory whose name has no weight-file extension (a directory named x.safetensors stays an
 * error of the file writer). */
bool wbr_hfdir_is_output(const char *path);

/* A directory output being written: the copies, staged (complete, not yet visible) when it opens,
 * published after the weights; stale weight files of an earlier save removed. */
typedef struct wbr_hfdir_out wbr_hfdir_out;

/* Check (or create) the directory, stage the copies, and choose the weights' file:
 * DIR/model.safetensors when the layout fits one shard of opts' maximum, else
 * DIR/model.safetensors.index.json (the sharded writer names its shards after it). *file: the
 * path to open the weights' writer on (caller frees). Nothing is left behind on failure. */
int wbr_hfdir_out_open(wbr_hfdir_out **out, wbr_ctx *ctx, const char *path, const wbr_tensorset *layout,
                       const wbr_file_ids *protect, const wbr_writer_options *opts, char **file);
/* After the weights are in place: publish the copies, then remove the stale weight files of an
 * earlier save (never an input, never anything but a regular file of the save's own names). */
int wbr_hfdir_out_commit(wbr_hfdir_out *d, const wbr_file_ids *protect, bool durable);
/* Discard what was not published (and a directory created for nothing). NULL is fine. */
void wbr_hfdir_out_free(wbr_hfdir_out *d);

#endif
