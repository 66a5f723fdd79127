#include "registry.h"

NB_MODULE(_native, m) {
    m.doc() = "voxlite native kernels (RVQ/FSQ, sampling, KV cache, ODE/diffusion solvers, noise) and the text front end";
    using namespace voxlite::bind;
    register_build_info(m);
    register_rvq(m);
    register_sampling(m);
    register_kvcache(m);
    register_solvers(m);
    register_text_normalize(m);
    register_text_g2p(m);
    register_text_sentences(m);
}
