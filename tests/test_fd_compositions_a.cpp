#define FD_SEEDS 1, 2, 3, 4, 5, 6
#define FD_SEED_NAMES "1-6"
#include "fd_compositions.inc"
