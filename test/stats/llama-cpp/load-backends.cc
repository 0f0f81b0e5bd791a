// Loads the CPU backends of node-llama-cpp's build (it loads them dynamically) before
// main runs: linked into llama-imatrix, built by run.sh from the bundled llama.cpp source.
#include "ggml-backend.h"
#ifndef BACKENDS_DIR
#error "define BACKENDS_DIR"
#endif
__attribute__((constructor)) static void load_backends() { ggml_backend_load_all_from_path(BACKENDS_DIR); }
