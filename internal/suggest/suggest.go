// Package suggest finds the word a user probably meant ("did you mean
// `listen`?"), for config's unknown keys and kinds and mapping's unknown
// rule keys. It stands alone.
package suggest

import "strings"

// Closest returns the known key nearest to typo, or "" when none is near
// enough to be what the user meant. Near enough grows with the key's
// length (a third of it, at most three edits), so that "lisen" finds
// "listen" but "bogus" finds nothing.
func Closest(typo string, known []string) string {
	typo = strings.ToLower(typo)
	limit := min(len(typo)/3+1, 3)
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := editDistance(typo, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of two neighbouring letters that turn a into b (the optimal string
// alignment distance: "secert" is one edit from "secret", not two).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j]; three rows suffice.
	prev2, prev, cur := make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
