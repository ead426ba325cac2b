/* fuzz/memtable/memtable_fuzz.c - libFuzzer target for the memtable, with a reference model as the oracle:
 * the model run (model_run.h) over options of every shape and sequences of adds, gets, batches, iterators and
 * references, every answer checked against the model. The damage operation's arguments are read and left
 * unused here: memtable_damage_fuzz damages entries. Misuse with documented statuses (NULL arguments,
 * invalid options) is checked by tests/memtable_misuse_test.c and the suites it names.
 */
#include <stddef.h>
#include <stdint.h>

#include "model_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return run_input(data, size, "memtable_fuzz", NULL); }
