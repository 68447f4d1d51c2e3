"""The local sandbox cluster: a real control plane with kwok-simulated nodes."""
