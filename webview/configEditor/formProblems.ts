// Places the language service's problems in the form: on the field, section or card with their
// exact path, or on the deepest field above them; the rest are listed at the top of the form.

import type { StateProblem } from '../../src/shared/protocol/configEditor';
import type { CardNode, FormNode } from './formTypes';
import { pathKey, walkNodes } from './formTypes';

/**
 * Attaches each problem to the node with its exact path, or to the deepest field above it
 * (`launch.gpus[1]` goes to `launch.gpus`). Returns the problems no field, section or card
 * matches, which the form lists at the top with their paths.
 */
export function attachProblems(nodes: readonly FormNode[], problems: readonly StateProblem[]): StateProblem[] {
  const byPath = new Map<string, FormNode | CardNode>();
  walkNodes(nodes, (node) => byPath.set(pathKey(node.path), node));
  const unplaced: StateProblem[] = [];
  for (const problem of problems) {
    let target = byPath.get(pathKey(problem.path));
    for (let depth = problem.path.length - 1; target === undefined && depth > 0; depth -= 1) {
      const above = byPath.get(pathKey(problem.path.slice(0, depth)));
      if (above?.type === 'field') {
        target = above;
      } else if (above !== undefined) {
        break;
      }
    }
    if (target === undefined) {
      unplaced.push(problem);
    } else {
      target.problems.push(problem);
    }
  }
  countProblems(nodes);
  return unplaced;
}

function countProblems(nodes: readonly FormNode[]): number {
  let total = 0;
  for (const node of nodes) {
    total += subtreeCount(node);
  }
  return total;
}

function subtreeCount(node: FormNode): number {
  let count = node.problems.length;
  if (node.type === 'section') {
    count += countProblems(node.children);
    node.problemCount = count;
  } else if (node.type === 'cards') {
    for (const card of node.items) {
      count += card.problems.length + countProblems(card.children);
    }
  } else if (node.control.kind === 'object') {
    count += countProblems(node.control.fields);
  }
  return count;
}

