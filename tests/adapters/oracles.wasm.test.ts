/** The method oracle matrix (oracle-matrix.ts) on the wasm backend. */
import { oracleMatrix } from "./oracle-matrix.ts"

oracleMatrix("wasm")
