module deployctl.local/standin

go 1.24
