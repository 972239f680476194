#define FD_SEEDS 7, 8, 9, 10, 11, 12
#define FD_SEED_NAMES "7-12"
#include "fd_compositions.inc"
