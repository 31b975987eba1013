/** The Llama-family parity (llama-parity.ts) on the native backend. */
import { llamaParity } from "./llama-parity.ts"

llamaParity("native")
