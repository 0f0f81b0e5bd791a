// Quantizes a GGUF with an imatrix through llama.cpp's own loader and quantizer, as llama-quantize does ("-": no imatrix). Built by run.sh.
#include "imatrix-loader.h"
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>
int main(int argc, char ** argv) {
    common_imatrix m;
    const bool none = std::string(argv[3]) == "-";
    if (!none && !common_imatrix_load(argv[3], m)) { fprintf(stderr, "imatrix load failed\n"); return 1; }
    std::unordered_map<std::string, std::vector<float>> data;
    for (auto & [name, e] : m.entries) {  // as tools/quantize does: GGUF sums / counts, legacy sums / ncall
        auto & v = data[name];
        const size_t ne0 = e.sums.size() / e.counts.size();
        v.resize(e.sums.size());
        for (size_t i = 0; i < e.sums.size(); i++) v[i] = e.sums[i] / (float) e.counts[m.is_legacy ? 0 : i / ne0];
    }
    std::vector<llama_model_imatrix_data> idata;
    for (auto & kv : data) idata.push_back({kv.first.c_str(), kv.second.data(), kv.second.size()});
    idata.push_back({nullptr, nullptr, 0});
    llama_backend_init();
    llama_model_quantize_params p = llama_model_quantize_default_params();
    p.ftype = (llama_ftype) atoi(argv[4]);
    p.imatrix = none ? nullptr : idata.data();
    p.nthread = 1;
    const uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
    printf("{\"rc\":%u,\"entries\":%zu}\n", rc, data.size());
    return rc;
}
