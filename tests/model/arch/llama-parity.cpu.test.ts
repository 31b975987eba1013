/** The Llama-family parity (llama-parity.ts) on the cpu backend. */
import { llamaParity } from "./llama-parity.ts"

llamaParity("cpu")
