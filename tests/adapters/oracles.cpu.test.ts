/** The method oracle matrix (oracle-matrix.ts) on the cpu backend. */
import { oracleMatrix } from "./oracle-matrix.ts"

oracleMatrix("cpu")
