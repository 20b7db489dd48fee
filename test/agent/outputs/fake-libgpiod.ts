/**
 * Builds a stand-in libgpiod.so.3 with gcc: the libgpiod v2 functions the koffi binding uses, over an in-memory
 * chip of 64 lines (levels are physical; `fake_gpiod_level(offset)` reads one). It checks the FFI layer (types,
 * pointers, errno) where there is no GPIO hardware. Returns null when no C compiler is installed.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SOURCE = String.raw`
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NLINES 64
enum gpiod_line_direction { GPIOD_LINE_DIRECTION_AS_IS = 1, GPIOD_LINE_DIRECTION_INPUT, GPIOD_LINE_DIRECTION_OUTPUT };
enum gpiod_line_value { GPIOD_LINE_VALUE_ERROR = -1, GPIOD_LINE_VALUE_INACTIVE = 0, GPIOD_LINE_VALUE_ACTIVE = 1 };

static bool level[NLINES];
static bool owned[NLINES];

struct gpiod_chip { int dummy; };
struct gpiod_line_settings { int direction; int value; bool active_low; };
struct gpiod_line_config { size_t n; unsigned int offsets[NLINES]; struct gpiod_line_settings s[NLINES]; };
struct gpiod_request_config { char consumer[32]; };
struct gpiod_line_request { size_t n; unsigned int offsets[NLINES]; bool active_low[NLINES]; };

bool fake_gpiod_level(unsigned int offset) { return offset < NLINES && level[offset]; }

struct gpiod_chip *gpiod_chip_open(const char *path) {
  if (access(path, F_OK) != 0) { errno = ENOENT; return NULL; }
  return calloc(1, sizeof(struct gpiod_chip));
}
void gpiod_chip_close(struct gpiod_chip *c) { free(c); }
struct gpiod_line_settings *gpiod_line_settings_new(void) { return calloc(1, sizeof(struct gpiod_line_settings)); }
void gpiod_line_settings_free(struct gpiod_line_settings *s) { free(s); }
int gpiod_line_settings_set_direction(struct gpiod_line_settings *s, enum gpiod_line_direction d) { s->direction = d; return 0; }
int gpiod_line_settings_set_output_value(struct gpiod_line_settings *s, enum gpiod_line_value v) {
  if (v != 0 && v != 1) { errno = EINVAL; return -1; }
  s->value = v; return 0;
}
void gpiod_line_settings_set_active_low(struct gpiod_line_settings *s, bool a) { s->active_low = a; }
struct gpiod_line_config *gpiod_line_config_new(void) { return calloc(1, sizeof(struct gpiod_line_config)); }
void gpiod_line_config_free(struct gpiod_line_config *c) { free(c); }
int gpiod_line_config_add_line_settings(struct gpiod_line_config *c, const unsigned int *offsets, size_t n, struct gpiod_line_settings *s) {
  for (size_t i = 0; i < n; i++) {
    if (c->n >= NLINES) { errno = E2BIG; return -1; }
    c->offsets[c->n] = offsets[i]; c->s[c->n] = *s; c->n++;
  }
  return 0;
}
struct gpiod_request_config *gpiod_request_config_new(void) { return calloc(1, sizeof(struct gpiod_request_config)); }
void gpiod_request_config_free(struct gpiod_request_config *c) { free(c); }
void gpiod_request_config_set_consumer(struct gpiod_request_config *c, const char *name) { strncpy(c->consumer, name, 31); }
struct gpiod_line_request *gpiod_chip_request_lines(struct gpiod_chip *chip, struct gpiod_request_config *rc, struct gpiod_line_config *lc) {
  (void)chip; (void)rc;
  for (size_t i = 0; i < lc->n; i++) {
    if (lc->offsets[i] >= NLINES) { errno = EINVAL; return NULL; }
    if (owned[lc->offsets[i]]) { errno = EBUSY; return NULL; }
    if (lc->s[i].direction != GPIOD_LINE_DIRECTION_OUTPUT) { errno = EINVAL; return NULL; }
  }
  struct gpiod_line_request *r = calloc(1, sizeof(struct gpiod_line_request));
  r->n = lc->n;
  for (size_t i = 0; i < lc->n; i++) {
    unsigned int o = lc->offsets[i];
    r->offsets[i] = o; r->active_low[i] = lc->s[i].active_low;
    owned[o] = true; level[o] = (lc->s[i].value == 1) != lc->s[i].active_low;
  }
  return r;
}
void gpiod_line_request_release(struct gpiod_line_request *r) {
  for (size_t i = 0; i < r->n; i++) owned[r->offsets[i]] = false;
  free(r);
}
static int find(struct gpiod_line_request *r, unsigned int offset) {
  for (size_t i = 0; i < r->n; i++) if (r->offsets[i] == offset) return (int)i;
  return -1;
}
int gpiod_line_request_set_value(struct gpiod_line_request *r, unsigned int offset, enum gpiod_line_value v) {
  int i = find(r, offset);
  if (i < 0 || (v != 0 && v != 1)) { errno = EINVAL; return -1; }
  level[offset] = (v == 1) != r->active_low[i];
  return 0;
}
enum gpiod_line_value gpiod_line_request_get_value(struct gpiod_line_request *r, unsigned int offset) {
  int i = find(r, offset);
  if (i < 0) { errno = EINVAL; return GPIOD_LINE_VALUE_ERROR; }
  return level[offset] != r->active_low[i] ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE;
}
`;

/** Compiles the stand-in into `dir` and returns the path of the .so, or null when gcc/cc is missing. */
export async function buildFakeLibgpiod(dir: string): Promise<string | null> {
  const compiler = ['cc', 'gcc'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
  if (!compiler) return null;
  const src = join(dir, 'fake-gpiod.c');
  const lib = join(dir, 'libgpiod.so.3');
  await writeFile(src, SOURCE);
  const r = spawnSync(compiler, ['-shared', '-fPIC', '-O1', '-Wall', '-Werror', '-o', lib, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build the fake libgpiod: ${r.stderr}`);
  return lib;
}
