//! Library side of `opensoc-train`: the training-set builder ([`corpus`]), the examples as
//! token sequences ([`data`]), and the training loop with its optimiser, schedule and loss
//! plot.

pub mod corpus;
pub mod data;
pub mod loss_plot;
pub mod optim;
pub mod schedule;
pub mod train;
