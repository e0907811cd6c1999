/**
 * Vector similarity for retrieval over embeddings (`LoadedModel.embed`, a processor's `ctx.embed`). Pure
 * functions, no runtime imports: this runs in the host and inside a processor's sandbox alike.
 */

/**
 * The cosine of the angle between two vectors of the same length, from -1 to 1; 0 when either is all zeros.
 * @throws RangeError when the lengths differ or a component is not a finite number
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosineSimilarity: vectors of different lengths (${a.length} and ${b.length})`);
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`cosineSimilarity: component ${i} is not a finite number`);
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  if (normA === 0 || normB === 0) return 0;
  // Rounding can push the quotient a hair outside [-1, 1].
  return Math.max(-1, Math.min(1, dot / (Math.sqrt(normA) * Math.sqrt(normB))));
}

/** Options of `rankBySimilarity`. */
export interface RankOptions {
  /** Keep only the best `topK` (default: all). */
  topK?: number;
  /** Drop candidates scoring below this (default: keep all). */
  minScore?: number;
}

/** One ranked candidate. */
export interface RankedCandidate {
  /** Its position in the `candidates` list. */
  index: number;
  /** Its cosine similarity to the query. */
  score: number;
}

/**
 * Rank `candidates` by cosine similarity to `query`, best first; equal scores keep the candidates' order.
 * Use the indexes to pick the texts the vectors were made from:
 *
 * ```ts
 * const [query, ...docs] = await ctx.embed([question, ...passages]);
 * const best = rankBySimilarity(query, docs, { topK: 3 }).map((r) => passages[r.index]);
 * ```
 * @throws RangeError as `cosineSimilarity` does
 */
export function rankBySimilarity(query: ArrayLike<number>, candidates: ReadonlyArray<ArrayLike<number>>, options: RankOptions = {}): RankedCandidate[] {
  const ranked: RankedCandidate[] = [];
  for (let index = 0; index < candidates.length; index++) {
    const score = cosineSimilarity(query, candidates[index]!);
    if (options.minScore === undefined || score >= options.minScore) ranked.push({ index, score });
  }
  ranked.sort((x, y) => y.score - x.score || x.index - y.index);
  if (options.topK !== undefined && options.topK >= 0 && ranked.length > options.topK) ranked.length = Math.floor(options.topK);
  return ranked;
}
