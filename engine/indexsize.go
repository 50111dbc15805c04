package engine

// IndexSize returns how many workers the in-memory routing index holds, over
// every loaded workspace (for metrics).
func (e *Engine) IndexSize() int {
	e.mu.Lock()
	idx := make([]*wsIndex, 0, len(e.workspaces))
	for _, wi := range e.workspaces {
		idx = append(idx, wi)
	}
	e.mu.Unlock()
	n := 0
	for _, wi := range idx {
		wi.mu.RLock()
		if wi.ix != nil {
			n += wi.ix.Len()
		}
		wi.mu.RUnlock()
	}
	return n
}
