// "Did you mean" suggestions, with the same measure as the trainer's difflib.get_close_matches
// (Ratcliff/Obershelp similarity, cutoff 0.6), so both suggest the same fix.

/** 2 * matching characters / total characters, matching by longest common blocks as difflib does. */
export function similarity(a: string, b: string): number {
  if (a.length + b.length === 0) {
    return 1;
  }
  return (2 * matchingCharacters(a, b)) / (a.length + b.length);
}

function matchingCharacters(a: string, b: string): number {
  if (a.length === 0 || b.length === 0) {
    return 0;
  }
  // Longest common substring by dynamic programming; names here are short.
  let best = 0;
  let bestA = 0;
  let bestB = 0;
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i += 1) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j += 1) {
      if (a[i - 1] === b[j - 1]) {
        current[j] = previous[j - 1]! + 1;
        if (current[j]! > best) {
          best = current[j]!;
          bestA = i - best;
          bestB = j - best;
        }
      }
    }
    previous = current;
  }
  if (best === 0) {
    return 0;
  }
  return (
    best +
    matchingCharacters(a.slice(0, bestA), b.slice(0, bestB)) +
    matchingCharacters(a.slice(bestA + best), b.slice(bestB + best))
  );
}

/** The most similar candidate scoring at least `cutoff`, or undefined. */
export function closestMatch(word: string, candidates: readonly string[], cutoff = 0.6): string | undefined {
  if (word.length > 200) {
    return undefined;
  }
  let best: string | undefined;
  let bestScore = cutoff;
  for (const candidate of candidates) {
    const score = similarity(word, candidate);
    if (score >= bestScore && (best === undefined || score > bestScore)) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}
