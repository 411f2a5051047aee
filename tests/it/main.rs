//! spurion's integration tests, in one binary so that burn, tract and ONNX Runtime are linked
//! once (as ripgrep's `tests/integration`). Each module tests one part end to end, most by
//! running the `spurion` binary; `common` holds what they share.

mod common;

mod architecture;
mod audit;
mod benchmark;
mod cli;
mod hostile;
mod image_memory;
mod onnx_corpus;
mod report;
mod reproduce;
mod scores;
