/** The `nn` namespace: Module and the layers (the functional utilities are exported at the top level). */
export { Module, type NamedTensors, type SerializedTensor, type SerializedState } from './module.js';
export { manualSeed, Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, ReLU, Tanh, GELU, Sigmoid, Identity, Dropout, LayerNorm, Embedding, BatchNorm, Sequential, MLP, type Activation, type InitOptions, type Conv2dModuleOptions } from './layers.js';
export { conv2d, maxPool2d, avgPool2d, type Conv2dOptions, type Pool2dOptions, type Pair } from './conv.js';
