/** The method oracle matrix (oracle-matrix.ts) on the native backend. */
import { oracleMatrix } from "./oracle-matrix.ts"

oracleMatrix("native")
