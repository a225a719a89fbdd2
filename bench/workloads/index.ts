/** The suite's workloads, in the order they run (the headline first). */
import type { Workload } from '../suite/types.js';
import { layerNorm, mlpForwardBackward, softmax } from './fusion.js';
import { hessianMlp, hessianTanh } from './hessians.js';
import { jacobians } from './jacobians.js';
import { elementwise, matmul, reduction } from './kernels.js';
import { ensembles, perSampleGrads, trainStep } from './learning.js';

export const WORKLOADS: Workload[] = [hessianTanh, hessianMlp, perSampleGrads, jacobians, ensembles, trainStep, softmax, layerNorm, mlpForwardBackward, matmul, elementwise, reduction];
