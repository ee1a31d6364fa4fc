module github.com/clintjedwards/gofer-scheduler/benches/go

go 1.19

require github.com/clintjedwards/gofer-scheduler/bindings/go v0.0.0

replace github.com/clintjedwards/gofer-scheduler/bindings/go => ../../bindings/go
