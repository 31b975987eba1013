/**
 * The registry: the only list of stage kinds a pipeline can name. To add a kind, write its folder
 * (`<kind>/params.ts`, `run.ts`, `index.ts`), import its `index.ts` here and add it to the array
 * (one import + one entry). This module is imported by `peftlab status`: an `index.ts` loads its
 * `run.ts` (tfjs, model code) only inside `run`.
 */
import type { AnyStageDefinition } from "../src/contracts/stage.ts"
import attachAdapter from "./attach-adapter/index.ts"
import buildModel from "./build-model/index.ts"
import loadModel from "./load-model/index.ts"
import evalStage from "./eval/index.ts"
import merge from "./merge/index.ts"
import report from "./report/index.ts"
import select from "./select/index.ts"
import tokenize from "./tokenize/index.ts"
import train from "./train/index.ts"

export const stages: ReadonlyArray<AnyStageDefinition> = [tokenize, buildModel, loadModel, attachAdapter, train, evalStage, merge, select, report]
