/**
 * GPT-2 model: weights, forward pass, hook points and interventions.
 * @module
 */
export * from "./gpt2.ts";
export * from "./hooks.ts";
export * from "./weights.ts";
