/**
 * The registry: the only list of stage kinds a pipeline can name. To add a kind, import its file
 * and add it to the array (one import + one entry). Keep stage files light at the top: this module
 * is imported by `peftlab status`.
 */
import type { AnyStageDefinition } from "../src/contracts/stage.ts"
import attachAdapter from "./attach-adapter.ts"
import buildModel from "./build-model.ts"
import loadModel from "./load-model.ts"
import evalStage from "./eval.ts"
import merge from "./merge.ts"
import report from "./report.ts"
import select from "./select.ts"
import tokenize from "./tokenize.ts"
import train from "./train.ts"

export const stages: ReadonlyArray<AnyStageDefinition> = [tokenize, buildModel, loadModel, attachAdapter, train, evalStage, merge, select, report]
