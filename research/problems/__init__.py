"""Objectives that are not neural networks (convex counterexamples, noisy quadratics), trained
by the same Trainer, optimizers, sweeper and report as the networks."""
