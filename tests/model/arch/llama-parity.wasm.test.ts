/** The Llama-family parity (llama-parity.ts) on the wasm backend. */
import { llamaParity } from "./llama-parity.ts"

llamaParity("wasm")
