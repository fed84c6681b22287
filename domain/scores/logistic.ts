// L2-regularized logistic regression fitted by Newton's method, on standardized features. Pure.
//
// Why Newton and not gradient descent (as ml-logistic-regression does): with a few dozen features
// the Hessian is a small matrix, so each step is one pass over the rows plus one Cholesky solve
// (ml-matrix), and about ten steps reach the optimum to machine precision; gradient descent needs
// a learning rate and thousands of passes, and stops wherever its step count runs out.
import { CholeskyDecomposition, Matrix } from 'ml-matrix';

export interface LogisticModel {
  intercept: number;
  /** One per feature, on the standardized scale. */
  weights: number[];
}

export interface LogisticFit extends LogisticModel {
  iterations: number;
}

/**
 * How features are brought to one scale before the fit: counts, money and days are skewed (a few
 * customers order fifty times), so each value is first compressed with a signed log1p, then
 * centred and scaled to unit deviation, with the means and scales of the training rows.
 */
export interface Standardization {
  means: number[];
  scales: number[];
}

const compress = (value: number): number => Math.sign(value) * Math.log1p(Math.abs(value));

export function fitStandardization(rows: number[][], width: number): Standardization {
  const means = new Array<number>(width).fill(0);
  const squares = new Array<number>(width).fill(0);
  for (const row of rows) for (let j = 0; j < width; j++) means[j] += compress(row[j]);
  for (let j = 0; j < width; j++) means[j] /= Math.max(rows.length, 1);
  for (const row of rows) for (let j = 0; j < width; j++) squares[j] += (compress(row[j]) - means[j]) ** 2;
  // A feature constant in training (no customer clicked) gets scale 1: it stays 0 and weighs nothing.
  const scales = squares.map((sum) => Math.sqrt(sum / Math.max(rows.length, 1)) || 1);
  return { means, scales };
}

export function standardize({ means, scales }: Standardization, values: number[]): number[] {
  return means.map((mean, j) => (compress(values[j]) - mean) / scales[j]);
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function probability(model: LogisticModel, x: number[]): number {
  let z = model.intercept;
  for (let j = 0; j < model.weights.length; j++) z += model.weights[j] * x[j];
  return sigmoid(z);
}

/**
 * Minimizes the log-loss plus `l2`/2 × the squared weights (the intercept is not penalized), on
 * standardized rows. Stops when no coefficient moves by more than `tolerance`.
 */
export function fitLogistic(rows: number[][], labels: boolean[], { l2, maxIterations = 50, tolerance = 1e-8 }: { l2: number; maxIterations?: number; tolerance?: number }): LogisticFit {
  if (rows.length !== labels.length) throw new Error(`fitLogistic: ${rows.length} rows but ${labels.length} labels`);
  const width = rows[0]?.length ?? 0;
  const size = width + 1;
  // beta[0] is the intercept; x[0] is 1.
  const beta = new Array<number>(size).fill(0);
  const positives = labels.filter(Boolean).length;
  // Starting from the base rate's log-odds saves a step or two.
  if (positives > 0 && positives < labels.length) beta[0] = Math.log(positives / (labels.length - positives));
  let iterations = 0;
  while (iterations < maxIterations) {
    iterations++;
    const hessian = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    const gradient = new Array<number>(size).fill(0);
    for (let i = 0; i < rows.length; i++) {
      const x = rows[i];
      let z = beta[0];
      for (let j = 0; j < width; j++) z += beta[j + 1] * x[j];
      const p = sigmoid(z);
      const residual = p - (labels[i] ? 1 : 0);
      const weight = p * (1 - p);
      gradient[0] += residual;
      hessian[0][0] += weight;
      for (let a = 0; a < width; a++) {
        const xa = x[a];
        gradient[a + 1] += residual * xa;
        hessian[0][a + 1] += weight * xa;
        const row = hessian[a + 1];
        for (let b = a; b < width; b++) row[b + 1] += weight * xa * x[b];
      }
    }
    for (let a = 1; a < size; a++) {
      gradient[a] += l2 * beta[a];
      hessian[a][a] += l2;
      for (let b = 0; b < a; b++) hessian[a][b] = hessian[b][a];
    }
    const step = new CholeskyDecomposition(new Matrix(hessian)).solve(Matrix.columnVector(gradient)).to1DArray();
    let largest = 0;
    for (let j = 0; j < size; j++) {
      beta[j] -= step[j];
      largest = Math.max(largest, Math.abs(step[j]));
    }
    if (!(largest > tolerance)) break;
  }
  if (beta.some((value) => !Number.isFinite(value))) throw new Error('fitLogistic: the fit diverged (a feature separates the labels perfectly?)');
  return { intercept: beta[0], weights: beta.slice(1), iterations };
}
