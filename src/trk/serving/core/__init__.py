"""The transport-free core: variants, decoding, the data plane, batching, metrics."""
