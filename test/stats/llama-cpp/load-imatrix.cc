// Loads an imatrix with llama.cpp's own loader (common_imatrix_load) and prints it as JSON. Built by run.sh.
#include "imatrix-loader.h"
#include <cstdio>
int main(int argc, char ** argv) {
    common_imatrix m;
    if (!common_imatrix_load(argv[1], m)) { printf("{\"ok\":false}\n"); return 1; }
    printf("{\"ok\":true,\"is_legacy\":%s,\"has_metadata\":%s,\"chunk_count\":%d,\"chunk_size\":%d,\"datasets\":[",
           m.is_legacy ? "true" : "false", m.has_metadata ? "true" : "false", m.chunk_count, m.chunk_size);
    for (size_t i = 0; i < m.datasets.size(); i++) printf("%s\"%s\"", i ? "," : "", m.datasets[i].c_str());
    printf("],\"entries\":{");
    bool first = true;
    for (auto & [name, e] : m.entries) {
        printf("%s\"%s\":{\"counts\":[", first ? "" : ",", name.c_str());
        first = false;
        for (size_t i = 0; i < e.counts.size(); i++) printf("%s%lld", i ? "," : "", (long long) e.counts[i]);
        printf("],\"sums\":[");
        for (size_t i = 0; i < e.sums.size(); i++) printf("%s%.9g", i ? "," : "", e.sums[i]);
        printf("]}");
    }
    printf("}}\n");
    return 0;
}
