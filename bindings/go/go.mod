module github.com/clintjedwards/gofer-scheduler/bindings/go

go 1.19
